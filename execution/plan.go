package execution

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Plans keeps, for each parsed document the gateway runs (gqlgen's query cache
// holds them, so a document is the same value from one request to the next), what
// every request running it would otherwise work out again: whether each operation
// can run directly, and the fields collected from each selection set for each
// object type. Collected fields are kept only for documents whose @skip and
// @include do not depend on variables; the others are collected per request, as
// gqlgen does. A plan is held by a weak reference to its document and dropped when
// the document is collected (after gqlgen's cache lets it go), so plans never keep
// documents alive; at most maxPlans are kept in any case.
type Plans struct {
	synchronous map[fieldKey]bool
	mu          sync.RWMutex
	docs        map[weak.Pointer[ast.QueryDocument]]*Plan
}

const maxPlans = 1000

// newPlans returns an empty cache for a schema with these synchronous fields.
func newPlans(synchronous map[fieldKey]bool) *Plans {
	return &Plans{synchronous: synchronous, docs: map[weak.Pointer[ast.QueryDocument]]*Plan{}}
}

// Plan is what is kept for one document.
type Plan struct {
	synchronous map[fieldKey]bool
	constant    bool     // no @skip or @include reads a variable
	direct      sync.Map // *ast.OperationDefinition -> bool
	fields      sync.Map // collectKey -> []graphql.CollectedField
}

type collectKey struct {
	sel      *ast.Selection
	n        int
	typeName string
}

// For returns the plan of doc, making it on first use.
func (p *Plans) For(doc *ast.QueryDocument) *Plan {
	key := weak.Make(doc)
	p.mu.RLock()
	pl := p.docs[key]
	p.mu.RUnlock()
	if pl != nil {
		return pl
	}
	pl = &Plan{synchronous: p.synchronous, constant: constantDirectives(doc)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.docs[key]; old != nil {
		return old
	}
	if len(p.docs) >= maxPlans {
		clear(p.docs)
	}
	p.docs[key] = pl
	runtime.AddCleanup(doc, p.forget, key)
	return pl
}

// forget drops the plan of a document that has been collected.
func (p *Plans) forget(key weak.Pointer[ast.QueryDocument]) {
	p.mu.Lock()
	delete(p.docs, key)
	p.mu.Unlock()
}

// len is the number of plans kept.
func (p *Plans) len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.docs)
}

// Synchronous reports whether the resolver of typ.field never waits (see Schema).
func (pl *Plan) Synchronous(typ, field string) bool { return pl.synchronous[fieldKey{typ, field}] }

// Direct is the package's Direct, computed once per operation.
func (pl *Plan) Direct(oc *graphql.OperationContext) bool {
	if v, ok := pl.direct.Load(oc.Operation); ok {
		return v.(bool)
	}
	d := Direct(oc)
	pl.direct.Store(oc.Operation, d)
	return d
}

// Selection is the fields collected from a selection set for one object type, with
// what the generated code works out about them once: whether anything below them
// may wait, and which of them run in their own goroutines.
type Selection struct {
	Fields []graphql.CollectedField
	// dup marks the fields whose alias an earlier field has: they are resolved
	// but not written, as gqlgen writes only the first (fields reached through
	// two interfaces are not merged). nil when no alias repeats.
	dup        []bool
	waits      atomic.Int32 // 0 not known, 1 no, 2 yes
	concurrent atomic.Pointer[[]bool]
}

// Waits reports whether something selected may wait, if known.
func (s *Selection) Waits() (waits, known bool) {
	v := s.waits.Load()
	return v == 2, v != 0
}

// SetWaits records whether something selected may wait.
func (s *Selection) SetWaits(waits bool) {
	if waits {
		s.waits.Store(2)
	} else {
		s.waits.Store(1)
	}
}

// Concurrent returns which fields run in their own goroutines, if known.
func (s *Selection) Concurrent() []bool {
	if p := s.concurrent.Load(); p != nil {
		return *p
	}
	return nil
}

// SetConcurrent records which fields run in their own goroutines.
func (s *Selection) SetConcurrent(c []bool) { s.concurrent.Store(&c) }

func newSelection(fields []graphql.CollectedField) *Selection {
	s := &Selection{Fields: fields}
	for i := 1; i < len(fields); i++ {
		for j := range i {
			if fields[j].Alias == fields[i].Alias {
				if s.dup == nil {
					s.dup = make([]bool, len(fields))
				}
				s.dup[i] = true
				break
			}
		}
	}
	return s
}

// Collect returns the fields of sel for an object of type typeName, as
// graphql.CollectFields does; implementors are the type and its interfaces.
func (pl *Plan) Collect(oc *graphql.OperationContext, sel ast.SelectionSet, typeName string, implementors []string) *Selection {
	if pl == nil || !pl.constant || len(sel) == 0 {
		return newSelection(graphql.CollectFields(oc, sel, implementors))
	}
	key := collectKey{sel: unsafe.SliceData(sel), n: len(sel), typeName: typeName}
	if v, ok := pl.fields.Load(key); ok {
		return v.(*Selection)
	}
	v, _ := pl.fields.LoadOrStore(key, newSelection(graphql.CollectFields(oc, sel, implementors)))
	return v.(*Selection)
}

// constantDirectives reports whether no @skip or @include in doc reads a variable.
func constantDirectives(doc *ast.QueryDocument) bool {
	var walk func(ast.SelectionSet) bool
	constant := func(ds ast.DirectiveList) bool {
		for _, d := range ds {
			if d.Name != "skip" && d.Name != "include" {
				continue
			}
			for _, a := range d.Arguments {
				if a.Value == nil || a.Value.Kind == ast.Variable {
					return false
				}
			}
		}
		return true
	}
	walk = func(sel ast.SelectionSet) bool {
		for _, s := range sel {
			switch s := s.(type) {
			case *ast.Field:
				if !constant(s.Directives) || !walk(s.SelectionSet) {
					return false
				}
			case *ast.InlineFragment:
				if !constant(s.Directives) || !walk(s.SelectionSet) {
					return false
				}
			case *ast.FragmentSpread:
				if !constant(s.Directives) {
					return false
				}
			}
		}
		return true
	}
	for _, op := range doc.Operations {
		if !walk(op.SelectionSet) {
			return false
		}
	}
	for _, f := range doc.Fragments {
		if !constant(f.Directives) || !walk(f.SelectionSet) {
			return false
		}
	}
	return true
}

// rootReadyKey marks a context whose root fields have their data at hand.
type rootReadyKey struct{}

// WithRootReady marks ctx, an operation's, as one whose root fields will not wait:
// their upstream answers were fetched before execution (see resolvers.RootFetch).
// The direct executor then resolves them one after another, without a goroutine
// each, which gains nothing when no field waits.
func WithRootReady(ctx context.Context) context.Context {
	return context.WithValue(ctx, rootReadyKey{}, true)
}

// RootReady reports whether ctx is marked by WithRootReady.
func RootReady(ctx context.Context) bool {
	v, _ := ctx.Value(rootReadyKey{}).(bool)
	return v
}

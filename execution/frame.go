package execution

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// Frame is where a value sits in the answer: a field of an object or an element of
// a list, below its parent's frame. Its field context (and a context holding it) is
// made only when something needs it: a resolver, a delegated field, an error's
// path. Before a frame's children run in several goroutines, the frame's context is
// made in the goroutine that starts them, so that no two goroutines make it at once.
//
// A frame keeps its field context, and the context that carries it, in its own
// memory: a field's frame, field context and context are one allocation where
// gqlgen's executor makes three, and the elements of a list share one for all.
type Frame struct {
	parent *Frame
	field  *graphql.CollectedField // nil for a list element
	object string                  // the object type of field
	index  int
	ctx    context.Context
	fctx   fieldContext // the context the frame made, when it made one
	// ready lists the resolvers that this frame's resolver, or an ancestor's,
	// said will answer below it without waiting (see WillNotWait).
	ready *readyMark
}

// readyMark is one resolver said not to wait, in a list shared with the frame's
// ancestors.
type readyMark struct {
	object, field string
	next          *readyMark
}

// Root returns the frame of an operation's root object, whose context is ctx.
func Root(ctx context.Context) *Frame { return &Frame{ctx: ctx} }

// Field returns the frame of a field of the object at f, not yet resolved.
func (f *Frame) Field(object string, field *graphql.CollectedField) *Frame {
	return &Frame{parent: f, field: field, object: object, ready: f.ready}
}

// Element returns the frame of element i of the list at f.
func (f *Frame) Element(i int) *Frame { return &Frame{parent: f, index: i, ready: f.ready} }

// elements returns the frames of the n elements of the list at f, made at once.
func (f *Frame) elements(n int) []Frame {
	es := make([]Frame, n)
	for i := range es {
		es[i].parent, es[i].index, es[i].ready = f, i, f.ready
	}
	return es
}

// Context returns the context of the frame, with its field context, making it (and
// its parents') on first use.
func (f *Frame) Context() context.Context {
	if f.ctx != nil {
		return f.ctx
	}
	parent := f.parent.Context()
	if f.field != nil {
		f.fctx.fc = graphql.FieldContext{Object: f.object, Field: *f.field}
	} else {
		f.fctx.fc = graphql.FieldContext{Index: &f.index}
	}
	f.bind(parent)
	return f.ctx
}

// bind makes the frame's context: parent with the frame's field context.
func (f *Frame) bind(parent context.Context) {
	if fieldContextKey == nil {
		f.ctx = graphql.WithFieldContext(parent, &f.fctx.fc)
		return
	}
	f.fctx.fc.Parent = graphql.GetFieldContext(parent)
	f.fctx.Context = parent
	f.fctx.frame = f
	f.ctx = &f.fctx
}

// Call returns the frame of a field of the object at f that a resolver answers,
// with fc (the field context gqlgen's code made for it, copied) as its field
// context. Its context is made at once; Resolve runs the resolver in it.
func (f *Frame) Call(fc *graphql.FieldContext) *Frame {
	c := &Frame{parent: f, ready: f.ready}
	c.fctx.fc = *fc
	c.bind(f.Context())
	return c
}

// FieldContext returns the field context of a frame from Call.
func (f *Frame) FieldContext() *graphql.FieldContext { return &f.fctx.fc }

// Resolve runs the resolver of a frame from Call as gqlgen's executor does: through
// the operation's field middleware, with a panic recovered and reported on the
// field, and an error reported with the field's location. resolve must call Enter
// with the context it is given: the context the middleware passed on, which the
// field's children run in. ok is false when the field failed; its error is
// reported.
func (f *Frame) Resolve(oc *graphql.OperationContext, resolve graphql.Resolver) (res any, ok bool) {
	ctx := f.ctx
	defer func() {
		if r := recover(); r != nil {
			oc.Error(ctx, oc.Recover(ctx, r))
			res, ok = nil, false
		}
	}()
	res, err := oc.ResolverMiddleware(ctx, resolve)
	if err != nil {
		oc.Error(ctx, graphql.AddFieldLocationToError(ctx, err))
		return nil, false
	}
	return res, true
}

// Enter records ctx, the context a field's middleware passed to its resolver, as
// the context of the frame's children.
func (f *Frame) Enter(ctx context.Context) { f.ctx = ctx }

// WillNotWait tells the direct executor, from the context a resolver was given,
// that below the field being resolved the resolver of object.field answers without
// waiting: the resolver has fetched what that one will ask for (primed its loader).
// Lists below the field whose elements then have nothing that may wait are written
// in the goroutine at hand, without a goroutine per element. It must be called
// before the resolver returns, and only when it holds for every value below the
// field; it reports whether the mark was taken (not under gqlgen's executor).
func WillNotWait(ctx context.Context, object, field string) bool {
	f, _ := ctx.Value(frameKey{}).(*Frame)
	if f == nil {
		return false
	}
	f.ready = &readyMark{object: object, field: field, next: f.ready}
	return true
}

// Ready reports whether a resolver at f or above it said that object.field's
// resolver will not wait below it.
func (f *Frame) Ready(object, field string) bool {
	for m := f.ready; m != nil; m = m.next {
		if m.object == object && m.field == field {
			return true
		}
	}
	return false
}

// Marked reports whether any resolver at f or above it used WillNotWait: when not,
// what may wait below f is what the plan says.
func (f *Frame) Marked() bool { return f.ready != nil }

// frameKey finds the frame of the field being resolved from its resolver's context.
type frameKey struct{}

// fieldContext is a context holding a gqlgen field context, as the one
// graphql.WithFieldContext makes, but in its frame's memory.
type fieldContext struct {
	context.Context
	fc    graphql.FieldContext
	frame *Frame
}

// Value answers gqlgen's lookup of the field context with the frame's own, and
// the lookup of the frame with it; it passes every other key on.
func (c *fieldContext) Value(key any) any {
	switch key {
	case fieldContextKey:
		return &c.fc
	case frameKey{}:
		return c.frame
	}
	return c.Context.Value(key)
}

// fieldContextKey is the key gqlgen files a field context under, learnt at start
// by letting graphql.GetFieldContext look one up. It stays nil when that does not
// go as expected (a gqlgen that keeps field contexts otherwise); frames then use
// graphql.WithFieldContext, which costs an allocation more per frame.
var fieldContextKey any

func init() { fieldContextKey = learnFieldContextKey() }

func learnFieldContextKey() any {
	p := &keyProbe{Context: context.Background()}
	if graphql.GetFieldContext(p) != nil || p.asks != 1 || p.key == nil {
		return nil
	}
	fieldContextKey = p.key
	defer func() { fieldContextKey = nil }()
	c := &fieldContext{Context: context.Background()}
	if graphql.GetFieldContext(c) != &c.fc {
		return nil
	}
	return p.key
}

// keyProbe is a context that remembers the first key it is asked for.
type keyProbe struct {
	context.Context
	key  any
	asks int
}

func (p *keyProbe) Value(key any) any {
	if p.asks++; p.asks == 1 {
		p.key = key
	}
	return nil
}

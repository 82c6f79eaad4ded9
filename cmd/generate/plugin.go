package main

import (
	_ "embed"
	"fmt"
	"go/types"
	"path/filepath"
	"sort"

	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/99designs/gqlgen/codegen/templates"
	"github.com/vektah/gqlparser/v2/ast"
)

// directPlugin is the gqlgen plugin that writes the direct executor.
type directPlugin struct{}

func (directPlugin) Name() string { return "switchyard-direct" }

//go:embed direct.gotpl
var directTemplate string

// GenerateCode writes direct_gen.go beside gqlgen's exec file.
func (directPlugin) GenerateCode(data *codegen.Data) error {
	d, err := build(data)
	if err != nil {
		return err
	}
	return templates.Render(templates.Options{
		PackageName:     data.Config.Exec.Package,
		Filename:        filepath.Join(filepath.Dir(data.Config.Exec.Filename), "direct_gen.go"),
		Data:            d,
		GeneratedHeader: true,
		Packages:        data.Config.Packages,
		Template:        directTemplate,
		PruneOptions:    data.Config.GetPruneOptions(),
	})
}

// The template's data: the objects the direct executor writes, and one writer
// function per Go type a field of theirs yields.
type (
	directData struct {
		Query   *directObject
		Objects []*directObject
		Writers []*directWriter
	}
	directObject struct {
		*codegen.Object
		Fields []*directField
	}
	directField struct {
		*codegen.Field
		// Kind is how the field is written: "resolver" (a resolver call, then
		// Writer), "value" (a struct field of obj, by Writer), "inline" (a struct
		// field holding an object by value, written in place), "delegate"
		// (gqlgen's executor writes it).
		Kind    string
		NonNull bool
		Writer  *directWriter
		Inline  *directObject
		// Waits is how the field's subtree may wait, for a delegated field: true
		// when it has a resolver or selects an object (gqlgen's code resolves what
		// is below it), so that it is treated as waiting.
		Waits bool
	}
	directWriter struct {
		Name string
		TR   *config.TypeReference
		// Kind is list, object, string, int, float, bool or enum.
		Kind    string
		NonNull bool
		Ptr     bool
		GQL     string
		Object  *directObject
		Elem    *directWriter
		EnumVar string
	}
)

// Deref is the expression of the writer's value, dereferenced.
func (w *directWriter) Deref() string {
	if w.Ptr {
		return "*v"
	}
	return "v"
}

type builder struct {
	objects map[string]*directObject
	writers map[string]*directWriter
	batch   map[string]bool // object types with batch resolvers
}

func build(data *codegen.Data) (*directData, error) {
	if data.Config.Exec.WorkerLimit != 0 {
		return nil, fmt.Errorf("exec.worker_limit: the direct executor does not support it; remove it")
	}
	b := &builder{objects: map[string]*directObject{}, writers: map[string]*directWriter{}, batch: map[string]bool{}}
	d := &directData{}
	for _, o := range data.Objects {
		for _, f := range o.Fields {
			if f.Batch {
				b.batch[o.Name] = true // lists of these are gqlgen's, which batches their resolvers
			}
		}
	}
	for _, o := range data.Objects {
		if o.Kind != ast.Object || o.IsReserved() || (o.Root && o != data.QueryRoot) || o.Stream {
			continue
		}
		if !o.Root && !isStruct(o.Type) {
			continue // bound to a Go interface or map: gqlgen writes it
		}
		do := &directObject{Object: o}
		b.objects[o.Name] = do
		d.Objects = append(d.Objects, do)
		if o == data.QueryRoot {
			d.Query = do
		}
	}
	if d.Query == nil {
		return nil, fmt.Errorf("the schema has no query type the direct executor can write")
	}
	for _, do := range d.Objects {
		for _, f := range do.Object.Fields {
			do.Fields = append(do.Fields, b.field(do, f))
		}
	}
	for _, w := range b.writers {
		d.Writers = append(d.Writers, w)
	}
	sort.Slice(d.Writers, func(i, j int) bool { return d.Writers[i].Name < d.Writers[j].Name })
	return d, nil
}

// isStruct reports whether t is a struct type or a pointer to one.
func isStruct(t types.Type) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	_, ok := t.Underlying().(*types.Struct)
	return ok
}

func (b *builder) field(o *directObject, f *codegen.Field) *directField {
	df := &directField{Field: f, Kind: "delegate", NonNull: f.TypeReference.GQL.NonNull}
	df.Waits = f.IsResolver || f.MethodHasContext || f.TypeReference.Definition.Kind != ast.Scalar && f.TypeReference.Definition.Kind != ast.Enum
	if f.IsReserved() || len(f.ImplDirectives()) > 0 || f.Batch || f.Stream {
		return df
	}
	w := b.writer(f.TypeReference)
	if w == nil {
		return df
	}
	switch {
	case f.IsResolver:
		df.Kind, df.Writer = "resolver", w
	case f.IsVariable() && !o.Root && len(f.Args) == 0:
		df.Kind, df.Writer = "value", w
		if w.Kind == "object" && !w.Ptr {
			df.Kind, df.Inline = "inline", w.Object
		}
	}
	return df
}

// writer returns the writer of values of tr, or nil when the direct executor leaves
// such values to gqlgen.
func (b *builder) writer(tr *config.TypeReference) *directWriter {
	name := "directWrite_" + tr.MarshalFunc()
	if w, ok := b.writers[name]; ok {
		return w
	}
	if tr.IsPtrToPtr() || tr.IsPtrToSlice() || tr.IsOmittable || tr.IsContext && !isBuiltin(tr) {
		return nil
	}
	w := &directWriter{Name: name, TR: tr, NonNull: tr.GQL.NonNull, Ptr: tr.IsPtr(), GQL: tr.GQL.String()}
	switch {
	case tr.IsSlice():
		elem := b.writer(tr.Elem())
		if elem == nil || b.batch[tr.Definition.Name] {
			return nil
		}
		w.Kind, w.Elem = "list", elem
	case tr.Definition.Kind == ast.Object:
		o := b.objects[tr.Definition.Name]
		if o == nil {
			return nil
		}
		w.Kind, w.Object = "object", o
	case tr.Definition.Kind == ast.Enum && tr.HasEnumValues() && !tr.IsMarshaler:
		w.Kind, w.EnumVar = "enum", tr.EnumMarshalVar(false)
	default:
		w.Kind = builtinKind(tr)
		if w.Kind == "" {
			return nil
		}
	}
	b.writers[name] = w
	return w
}

func isBuiltin(tr *config.TypeReference) bool { return builtinKind(tr) != "" }

// builtinKind is the kind of a value of one of GraphQL's own scalars marshalled by
// gqlgen's own functions, or "".
func builtinKind(tr *config.TypeReference) string {
	if tr.Marshaler == nil || tr.Marshaler.Pkg() == nil ||
		tr.Marshaler.Pkg().Path() != "github.com/99designs/gqlgen/graphql" || tr.CastType != nil {
		return ""
	}
	want := map[string]string{
		"MarshalString": "string", "MarshalID": "string",
		"MarshalInt": "int", "MarshalInt32": "int", "MarshalInt64": "int",
		"MarshalFloatContext": "float", // (MarshalFloat writes NaN without an error: gqlgen's)
		"MarshalBoolean":      "bool",
	}[tr.Marshaler.Name()]
	t := tr.GO
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	basic, ok := t.Underlying().(*types.Basic)
	if !ok {
		return ""
	}
	info := basic.Info()
	switch {
	case want == "string" && info&types.IsString != 0,
		want == "int" && info&types.IsInteger != 0,
		want == "float" && info&types.IsFloat != 0,
		want == "bool" && info&types.IsBoolean != 0:
		return want
	}
	return ""
}

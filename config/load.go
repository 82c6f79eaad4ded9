package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/setting"
)

// path names a key of the file: "pools", "users", "endpoints", "[1]".
type path = setting.Path

// FieldError is one problem of a configuration file.
type FieldError struct {
	File string // the file's name, or "" for a configuration built in code
	Line int    // 1-based, or 0 when unknown
	Key  string // the key's path, "pools.users.endpoints[1]"
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
		if e.Line > 0 {
			b.WriteString(strconv.Itoa(e.Line))
			b.WriteByte(':')
		}
		b.WriteByte(' ')
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

type errorList struct {
	errs []*FieldError
	keys []path
}

// Add records a problem at the key p; errorList is the setting.Reporter the
// subsystems' Validate methods report to.
func (l *errorList) Add(p path, format string, args ...any) {
	l.errs = append(l.errs, &FieldError{Key: p.String(), Msg: fmt.Sprintf(format, args...)})
	l.keys = append(l.keys, p)
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// Load reads, checks and validates the configuration file at name, with defaults set.
// The error, if any, lists every problem found, each naming the file, line and key.
// requiredPools are passed to Validate.
func Load(name string, requiredPools ...string) (*Config, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(name, data, requiredPools...)
}

// Parse is Load for a file already read; name is used in errors.
func Parse(name string, data []byte, requiredPools ...string) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF { // an empty file: every default
			c := &Config{}
			c.SetDefaults()
			return c, finish(name, nil, c.Validate(requiredPools...))
		}
		return nil, &FieldError{File: name, Line: yamlErrorLine(err), Msg: "not valid YAML: " + trimYAMLError(err)}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	// Every problem is reported at once, sorted by line: unknown and duplicate keys,
	// values of the wrong type, and the checks of the values (those of a key whose
	// value had the wrong type left out: its default stands in for it there).
	var errs errorList
	checkKeys(doc, reflect.TypeFor[Config](), nil, &errs)
	var c Config
	var mistyped []string
	if err := doc.Decode(&c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &FieldError{File: name, Msg: err.Error()}
		}
		for _, msg := range te.Errors {
			if strings.Contains(msg, "already defined at line") {
				continue // a duplicate key: checkKeys reported it
			}
			line := yamlErrorLine(errors.New(msg))
			key := keyAtLine(doc, line, nil).String()
			mistyped = append(mistyped, key)
			errs.errs = append(errs.errs, &FieldError{Line: line, Key: key, Msg: typeMessage(msg)})
			errs.keys = append(errs.keys, nil)
		}
	}
	c.resolvePaths(filepath.Dir(name))
	c.SetDefaults()
	if err := c.Validate(requiredPools...); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			fe := e.(*FieldError)
			if under(fe.Key, mistyped) {
				continue
			}
			errs.errs = append(errs.errs, fe)
			errs.keys = append(errs.keys, nil)
		}
	}
	if len(errs.errs) > 0 {
		err := finish(name, doc, errs.err())
		return nil, sortByLine(err)
	}
	forgetText(reflect.ValueOf(&c).Elem())
	c.source = &source{name: name, doc: doc}
	return &c, nil
}

// typeMessage says what a type error of the YAML decoder means: "cannot unmarshal
// !!str `abc` into int" becomes "wrong type: "abc" where a number is expected".
func typeMessage(msg string) string {
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return "wrong type: " + trimYAMLError(errors.New(msg))
	}
	got := map[string]string{"!!str": "the text", "!!int": "the number", "!!float": "the number",
		"!!bool": "the boolean", "!!seq": "a list", "!!map": "a mapping", "!!null": "null"}[m[1]]
	if got == "" {
		got = "a value"
	}
	want := m[3]
	switch {
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map["):
		want = "a mapping"
	case strings.Contains(want, "int"), strings.Contains(want, "float"):
		want = "a number"
	case want == "bool" || want == "*bool":
		want = "true or false"
	case want == "string":
		want = "a text"
	case strings.Contains(want, "Duration"):
		want = "a duration such as 250ms or 2s"
	default:
		want = "a mapping"
	}
	if m[2] != "" && (m[1] == "!!str" || m[1] == "!!int" || m[1] == "!!float" || m[1] == "!!bool") {
		return fmt.Sprintf("wrong type: %s %s where %s is expected", got, strconv.Quote(m[2]), want)
	}
	return fmt.Sprintf("wrong type: %s where %s is expected", got, want)
}

var typeErrorRE = regexp.MustCompile("cannot unmarshal (!!\\w+) (?:`([^`]*)` )?into (\\S+)")

// under reports whether key is one of keys or lies below one.
func under(key string, keys []string) bool {
	for _, k := range keys {
		if k != "" && (key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[")) {
			return true
		}
	}
	return false
}

// sortByLine orders the problems of err by line (problems without a line last),
// keeping the order of those on the same line.
func sortByLine(err error) error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	list := slices.Clone(j.Unwrap())
	line := func(e error) int {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Line > 0 {
			return fe.Line
		}
		return 1 << 30
	}
	slices.SortStableFunc(list, func(a, b error) int { return line(a) - line(b) })
	return errors.Join(list...)
}

// source is the file a configuration was read from, kept to find the line of a
// key that a later check (the gateway's, at build) finds wrong.
type source struct {
	name string
	doc  *yaml.Node
}

// Locate gives the problems in err that name a key of the configuration (as
// *FieldError) the file and line of that key, when the configuration was read
// from a file, and returns err.
func (c *Config) Locate(err error) error {
	if c.source == nil || err == nil {
		return err
	}
	return finish(c.source.name, c.source.doc, err)
}

// resolvePaths makes the schema files' patterns relative to the file's directory.
func (c *Config) resolvePaths(dir string) {
	for i, p := range c.GraphQL.Schema {
		if p != "" && !filepath.IsAbs(p) {
			c.GraphQL.Schema[i] = filepath.Join(dir, p)
		}
	}
}

// forgetText drops the text that durations were written as, once validated, so that
// configurations compare by value: "1s" and "1000ms" are the same pool.
func forgetText(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			forgetText(v.Elem())
		}
	case reflect.Struct:
		if d, ok := v.Addr().Interface().(*Duration); ok {
			d.ForgetText()
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				forgetText(v.Field(i))
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			forgetText(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			forgetText(v.Index(i))
		}
	}
}

// finish sets the file and line of each FieldError in err.
func finish(name string, doc *yaml.Node, err error) error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) {
			fe.File = name
			if fe.Line == 0 && doc != nil {
				fe.Line = lineOf(doc, splitKey(fe.Key))
			}
		}
	}
	return err
}

// checkKeys reports every key of n that t, a struct or map type, has no place for.
// yamlFields adds the keys of struct type t to fields, those of its inlined
// structs (a subsystem's options embedded in a section) included.
func yamlFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case opts == "inline" && f.Type.Kind() == reflect.Struct:
			yamlFields(f.Type, fields)
		case name != "" && name != "-":
			fields[name] = f.Type
		}
	}
}

func checkKeys(n *yaml.Node, t reflect.Type, at path, errs *errorList) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[Duration]() || n.Kind != yaml.MappingNode {
			return
		}
		fields := map[string]reflect.Type{}
		yamlFields(t, fields)
		dropDuplicates(n, at, errs)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs.errs = append(errs.errs, &FieldError{Line: k.Line, Key: at.Key(k.Value).String(),
					Msg: "unknown key" + suggest(k.Value, fields)})
				errs.keys = append(errs.keys, at.Key(k.Value))
				continue
			}
			checkKeys(v, ft, at.Key(k.Value), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		dropDuplicates(n, at, errs)
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), at.Key(n.Content[i].Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, v := range n.Content {
			checkKeys(v, t.Elem(), at.Index(i), errs)
		}
	}
}

// dropDuplicates reports each key of mapping n given a second time (YAML allows
// one value per key) and takes it out, with its value, so that the rest of the
// file is still read and checked.
func dropDuplicates(n *yaml.Node, at path, errs *errorList) {
	seen := map[string]int{}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := seen[k.Value]; dup {
			errs.errs = append(errs.errs, &FieldError{Line: k.Line, Key: at.Key(k.Value).String(),
				Msg: fmt.Sprintf("given twice: this key is already set at line %d (keep one)", first)})
			errs.keys = append(errs.keys, at.Key(k.Value))
			continue
		}
		seen[k.Value] = k.Line
		kept = append(kept, k, n.Content[i+1])
	}
	n.Content = kept
}

// suggest names the known keys, so that a typo is easy to fix.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	return " (known keys: " + strings.Join(names, ", ") + ")"
}

func splitKey(key string) path {
	var p path
	for _, part := range strings.Split(key, ".") {
		if part == "" {
			continue
		}
		if i := strings.IndexByte(part, '['); i >= 0 {
			if i > 0 {
				p = append(p, part[:i])
			}
			for _, idx := range strings.SplitAfter(part[i:], "]") {
				if idx != "" {
					p = append(p, idx)
				}
			}
			continue
		}
		p = append(p, part)
	}
	return p
}

// lineOf returns the line of the deepest node of p that exists in n: the value's line
// when the whole path exists, else its nearest existing parent's.
func lineOf(n *yaml.Node, p path) int {
	line := n.Line
	for _, seg := range p {
		switch {
		case n.Kind == yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		case n.Kind == yaml.SequenceNode && strings.HasPrefix(seg, "["):
			i, err := strconv.Atoi(strings.Trim(seg, "[]"))
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
		default:
			return line
		}
	}
	return line
}

// keyAtLine returns the path of the key or sequence entry whose value starts at line.
func keyAtLine(n *yaml.Node, line int, at path) path {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if p := keyAtLine(v, line, at.Key(k.Value)); p != nil {
				return p
			}
			if k.Line == line {
				return at.Key(k.Value)
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if p := keyAtLine(v, line, at.Index(i)); p != nil {
				return p
			}
			// An entry of a sequence written on its own line; one written on the
			// sequence's line ([1, 2]) is named by the sequence's key, since a
			// type error there is most often the sequence's own.
			if v.Line == line && n.Line != line {
				return at.Index(i)
			}
		}
	}
	return nil
}

var lineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

var linePrefixRE = regexp.MustCompile(`^(yaml: )?(line \d+: )?`)

func trimYAMLError(err error) string {
	return linePrefixRE.ReplaceAllString(err.Error(), "")
}

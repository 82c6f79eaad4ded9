// Package setting holds what the subsystems' options share with the configuration
// file: the Duration type of their YAML fields, and the Path and Reporter with which
// their Validate methods report a problem by the key it is at. The config package
// maps each reported key to its file and line.
package setting

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Path names a key of the configuration: "pools", "users", "endpoints", "[1]".
type Path []string

// Key is p extended by a mapping key.
func (p Path) Key(k string) Path { return append(p[:len(p):len(p)], k) }

// Index is p extended by a sequence index.
func (p Path) Index(i int) Path { return append(p[:len(p):len(p)], "["+strconv.Itoa(i)+"]") }

// String writes p as "pools.users.endpoints[1]".
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// Reporter collects the problems a Validate method finds.
type Reporter interface {
	Add(at Path, format string, args ...any)
}

// Problems is a Reporter that keeps the problems as a list, for options built in
// code rather than loaded from a file.
type Problems []string

// Add records one problem.
func (ps *Problems) Add(at Path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(at) > 0 {
		msg = at.String() + ": " + msg
	}
	*ps = append(*ps, msg)
}

// Err is nil without problems, else one error naming them all.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(ps, "; "))
}

// Duration is a time.Duration written as a Go duration string ("250ms", "2s"). It
// keeps the text it was read from, so that a bad value is reported by Check with its
// key rather than by the YAML decoder without one.
type Duration struct {
	time.Duration
	raw string
	set bool
}

// D returns d as a Duration, for options built in code.
func D(d time.Duration) Duration { return Duration{Duration: d, set: true} }

// UnmarshalYAML keeps the text; Check reports it when it is not a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	d.raw, d.set = n.Value, true
	if n.Kind != yaml.ScalarNode {
		d.raw = "<" + KindName(n.Kind) + ">"
		return nil
	}
	if v, err := time.ParseDuration(n.Value); err == nil {
		d.Duration = v
	}
	return nil
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.Duration.String(), nil }

// Raw is the text the duration was read from, "" when it was not read from a file.
func (d Duration) Raw() string { return d.raw }

// IsSet reports whether the duration was written, in a file or in code, even as
// zero.
func (d Duration) IsSet() bool { return d.set }

// ForgetText drops the text the duration was read from, so that durations compare
// by value ("1s" and "1000ms" are equal), keeping it marked as written.
func (d *Duration) ForgetText() { d.raw, d.set = "", true }

// SetDefault gives an unset duration the value def; a duration written as zero
// stays zero.
func (d *Duration) SetDefault(def time.Duration) {
	if d.Duration == 0 && (!d.set || d.raw == "") {
		*d = D(def)
	}
}

// OrDefault gives a zero duration, unset or written as zero, the value def, keeping
// the text it was read from.
func (d *Duration) OrDefault(def time.Duration) {
	if d.Duration == 0 {
		d.Duration = def
	}
}

// Check reports a duration whose text is not a duration, or is negative.
func (d Duration) Check(at Path, r Reporter) {
	if !d.set || d.raw == "" {
		return
	}
	v, err := time.ParseDuration(d.raw)
	switch {
	case err != nil && strings.HasPrefix(d.raw, "<"): // a sequence or mapping
		r.Add(at, "wrong type: a %s where a duration is expected (write it like 500ms, 2s or 1m)", strings.Trim(d.raw, "<>"))
	case err != nil:
		r.Add(at, "%q is not a duration (write it like 500ms, 2s or 1m)", d.raw)
	case v < 0:
		r.Add(at, "must not be negative, got %s", d.raw)
	}
}

// WrittenZero reports whether the duration was read from a file as zero ("0s").
func (d Duration) WrittenZero() bool {
	v, err := time.ParseDuration(d.raw)
	return err == nil && v == 0
}

// KindName names a YAML node kind in an error.
func KindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	default:
		return fmt.Sprint("node kind ", k)
	}
}

// Ptr returns a pointer to v, for the optional fields of options built in code.
func Ptr[T any](v T) *T { return &v }

// Token reports whether s is an RFC 9110 token, as header field and cookie names
// are.
func Token(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return s != ""
}

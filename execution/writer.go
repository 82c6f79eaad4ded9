package execution

import (
	"errors"
	"math"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// Writer accumulates JSON. A value that turns out null after part of it was written
// (a non-null field below it was null) is cut off with Truncate.
type Writer struct{ B []byte }

var writers = sync.Pool{New: func() any { return &Writer{B: make([]byte, 0, 512)} }}

// NewWriter returns an empty writer from a pool; Release gives it back.
func NewWriter() *Writer { return writers.Get().(*Writer) }

// Release returns w to the pool. w must not be used after.
func (w *Writer) Release() {
	if cap(w.B) > 64<<10 {
		return
	}
	w.B = w.B[:0]
	writers.Put(w)
}

// Write appends p, so that a graphql.Marshaler can write into w.
func (w *Writer) Write(p []byte) (int, error) {
	w.B = append(w.B, p...)
	return len(p), nil
}

// Len is the number of bytes written; Truncate(n) drops what followed.
func (w *Writer) Len() int { return len(w.B) }

// Truncate drops everything written after the first n bytes.
func (w *Writer) Truncate(n int) { w.B = w.B[:n] }

// Byte writes one byte.
func (w *Writer) Byte(c byte) { w.B = append(w.B, c) }

// Null writes null.
func (w *Writer) Null() { w.B = append(w.B, "null"...) }

// Key writes a member name and its colon, after a comma unless first.
func (w *Writer) Key(first bool, name string) {
	if !first {
		w.B = append(w.B, ',')
	}
	w.String(name)
	w.B = append(w.B, ':')
}

// String writes s as a JSON string, escaped as gqlgen's graphql.MarshalString does.
func (w *Writer) String(s string) {
	b := append(w.B, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	w.B = append(b, '"')
}

const hex = "0123456789ABCDEF" // upper case, as gqlgen writes it

// Int writes an integer.
func (w *Writer) Int(i int64) { w.B = strconv.AppendInt(w.B, i, 10) }

// Float writes a float as graphql.MarshalFloatContext does (%g); an infinity or NaN,
// which JSON cannot hold, is null with an error on the frame's path.
func (w *Writer) Float(f float64, at Site) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		graphql.AddError(at.Frame().Context(), errNotFinite)
		w.Null()
		return
	}
	w.B = strconv.AppendFloat(w.B, f, 'g', -1, 64)
}

var errNotFinite = errors.New("cannot marshal infinite no NaN float values")

// Bool writes true or false.
func (w *Writer) Bool(v bool) { w.B = strconv.AppendBool(w.B, v) }

package setting

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bytes is a size written as GOMEMLIMIT writes one: a number of bytes, with an
// optional unit B, KiB, MiB, GiB or TiB ("200MiB", "1GiB", 1048576). Zero is unset.
type Bytes int64

// UnmarshalYAML reads a size; a malformed one is a type error of its key.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseBytes(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*b = Bytes(v)
	return nil
}

// ParseBytes reads a size as GOMEMLIMIT does.
func ParseBytes(text string) (int64, error) {
	s := strings.TrimSpace(text)
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size (write it like 256MiB, 1GiB or a number of bytes)", text)
	}
	return n << shift, nil
}

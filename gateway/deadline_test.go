package gateway

import (
	"testing"
	"time"
)

func TestRequestTimeout(t *testing.T) {
	tests := []struct {
		header string
		def    time.Duration
		want   time.Duration
		bad    bool
	}{
		{"", 0, 0, false},
		{"", 3 * time.Second, 3 * time.Second, false},
		{"2.5", 0, 2500 * time.Millisecond, false},
		{"250ms", time.Second, 250 * time.Millisecond, false},
		{"600", 0, time.Minute, false}, // capped
		{"0", 0, 0, true},
		{"-1s", 0, 0, true},
		{"soon", 0, 0, true},
		{"NaN", 0, 0, true},
	}
	for _, tc := range tests {
		got, err := requestTimeout(tc.header, tc.def, time.Minute)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("%q: got %v, %v; want %v, bad=%v", tc.header, got, err, tc.want, tc.bad)
		}
	}
}

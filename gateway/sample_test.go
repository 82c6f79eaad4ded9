package gateway

import "testing"

func TestSampled(t *testing.T) {
	for _, rate := range []float64{0.1, 0.5, 0.7, 0.9, 1} {
		n := 0
		for i := uint64(1); i <= 1000; i++ {
			if sampled(i, rate) {
				n++
			}
		}
		if want := int(rate * 1000); n != want {
			t.Errorf("rate %g logged %d of 1000, want %d", rate, n, want)
		}
	}
}

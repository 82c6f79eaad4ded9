package main

import (
	"io"
	"math"
	"strings"
	"testing"
)

func TestGeoMeanCI(t *testing.T) {
	e := geoMeanCI([]float64{1.1, 1.1, 1.1})
	if math.Abs(e.Ratio-1.1) > 1e-9 || math.Abs(e.Low-1.1) > 1e-9 || math.Abs(e.High-1.1) > 1e-9 {
		t.Fatalf("equal ratios: %+v, want 1.1 with no spread", e)
	}
	// ln 2 and ln 0.5 cancel: mean ratio 1; sd of the logs ln2*sqrt(2), half-width
	// 12.706 * ln2*sqrt2 / sqrt2 = 12.706 ln 2.
	e = geoMeanCI([]float64{2, 0.5})
	if math.Abs(e.Ratio-1) > 1e-9 {
		t.Fatalf("ratio %v, want 1", e.Ratio)
	}
	if want := math.Exp(12.706 * math.Ln2); math.Abs(e.High-want)/want > 1e-6 || math.Abs(e.Low-1/want)*want > 1e-6 {
		t.Fatalf("interval %v .. %v, want %v .. %v", e.Low, e.High, 1/want, want)
	}
	if e := geoMeanCI(nil); e.Ratio != 0 {
		t.Fatalf("no ratios: %+v", e)
	}
}

func TestABEstimatePairsRounds(t *testing.T) {
	c := abCase{Name: "w1", Rounds: []abRound{
		{Round: 1, Build: "abc", Rate: 100, ServerCPUPerUs: 10},
		{Round: 1, Build: "head", Rate: 110, ServerCPUPerUs: 9},
		{Round: 2, Build: "head", Rate: 220, ServerCPUPerUs: 4.5},
		{Round: 2, Build: "abc", Rate: 200, ServerCPUPerUs: 5},
	}}
	c.estimate("abc")
	if math.Abs(c.Rate.Ratio-1.1) > 1e-9 {
		t.Fatalf("rate ratio %v, want 1.1 (head over abc in each round)", c.Rate.Ratio)
	}
	if c.CPU == nil || math.Abs(c.CPU.Ratio-0.9) > 1e-9 {
		t.Fatalf("CPU ratio %+v, want 0.9", c.CPU)
	}
}

func TestABFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-ab", "HEAD~1", "-cases", "direct"}, "-cases has neither"},
		{[]string{"-ab", "HEAD~1", "-rounds", "1"}, "-rounds must be at least 2"},
		{[]string{"-ab", "HEAD~1", "-profile", "p"}, "do not go together"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.err)
		}
	}
	o, err := parseFlags([]string{"-ab", "HEAD~1", "-cases", "w1,w2"}, io.Discard)
	if err != nil || o.AB != "HEAD~1" || o.Rounds != 6 {
		t.Fatalf("options %+v, error %v", o, err)
	}
}

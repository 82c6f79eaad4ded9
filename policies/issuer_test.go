package policies

import (
	"testing"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// TestClockSkewZeroStays: a clock skew written as 0 means none, however many times
// the defaults are applied (the configuration's, then the tokens'); unset is 30s.
func TestClockSkewZeroStays(t *testing.T) {
	zero := Issuer{URL: "https://issuer.example", ClockSkew: setting.D(0)}
	zero.SetDefaults()
	zero.ClockSkew.ForgetText() // as the configuration's loader does
	zero.SetDefaults()
	if zero.ClockSkew.Duration != 0 {
		t.Fatalf("clock_skew 0 became %v", zero.ClockSkew.Duration)
	}
	var unset Issuer
	unset.SetDefaults()
	if unset.ClockSkew.Duration != 30*time.Second {
		t.Fatalf("unset clock_skew is %v, want 30s", unset.ClockSkew.Duration)
	}
}

package policies

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// Issuer is an OpenID Connect issuer whose access tokens (signed JWTs) the gateway
// accepts as bearer tokens; it is also an entry of the configuration's auth.oidc,
// key for key. Its keys are found by discovery (URL/.well-known/openid-configuration)
// when first needed.
type Issuer struct {
	// URL is the issuer identifier, exactly as tokens carry it in "iss": https, or
	// http on a loopback address. Required.
	URL string `yaml:"issuer"`
	// Audiences are the "aud" values accepted; a token must name one of them.
	// Required.
	Audiences []string `yaml:"audiences"`
	// Algorithms are the signature algorithms accepted. Only asymmetric ones are
	// allowed ("none" and HS* never are). Default: AsymmetricAlgorithms.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is how far the gateway's clock and the issuer's may disagree when
	// "exp", "nbf" and "iat" are checked, at most 5m. Default 30s; 0 for none.
	ClockSkew setting.Duration `yaml:"clock_skew"`
	// SubjectClaim names the claim that is the principal's subject. Default "sub".
	SubjectClaim string `yaml:"subject_claim"`
	// ScopesClaim names the claim holding the granted scopes, a space-separated
	// string or an array of strings. Default "scope".
	ScopesClaim string `yaml:"scopes_claim"`
	// Claims are further claims copied into the principal.
	Claims []string `yaml:"claims"`
	// RefetchInterval is the least time between two fetches of the key set made
	// because a token named a key the gateway did not know, at least 1s: a flood of
	// tokens with made-up key ids costs the issuer one fetch per interval. Default
	// 10s.
	RefetchInterval setting.Duration `yaml:"jwks_refetch_interval"`
	// MaxAge is how long a fetched key set is used before it is fetched again (so
	// that a key the issuer withdrew stops being accepted). A failed fetch keeps
	// the keys held. Default 10m.
	MaxAge setting.Duration `yaml:"jwks_max_age"`
	// Client fetches discovery and keys. Default: a client with a 10 s timeout.
	Client *http.Client `yaml:"-"`
	// Log is told when the key set changes or cannot be fetched.
	Log *slog.Logger `yaml:"-"`
	// Now is the clock that times the fetches of the key set (RefetchInterval,
	// MaxAge); nil is time.Now. Tests pass their own.
	Now func() time.Time `yaml:"-"`
}

// SetDefaults fills every unset field but Client, Log and Now with its default.
func (c *Issuer) SetDefaults() {
	if len(c.Algorithms) == 0 {
		c.Algorithms = slices.Clone(AsymmetricAlgorithms)
	}
	if !c.ClockSkew.IsSet() { // written as 0, in a file or in code, it stays 0
		c.ClockSkew = setting.D(30 * time.Second)
	}
	if c.SubjectClaim == "" {
		c.SubjectClaim = "sub"
	}
	if c.ScopesClaim == "" {
		c.ScopesClaim = "scope"
	}
	c.RefetchInterval.OrDefault(10 * time.Second)
	c.MaxAge.OrDefault(10 * time.Minute)
}

// Validate reports, under at, the problems of an issuer with its defaults set.
func (c *Issuer) Validate(at setting.Path, r setting.Reporter) {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		r.Add(at.Key("issuer"), "every issuer needs its URL")
	case err != nil || u.Host == "" || (u.Scheme != "https" && (u.Scheme != "http" || !loopbackHost(u.Hostname()))):
		r.Add(at.Key("issuer"), "%q is not an issuer URL: https://host[/path] (http only on a loopback address)", c.URL)
	}
	if len(c.Audiences) == 0 {
		r.Add(at.Key("audiences"), "name the audiences the issuer's tokens must carry for this gateway")
	}
	for j, a := range c.Audiences {
		if a == "" {
			r.Add(at.Key("audiences").Index(j), "an audience cannot be empty")
		}
	}
	for j, a := range c.Algorithms {
		if !slices.Contains(AsymmetricAlgorithms, a) {
			r.Add(at.Key("algorithms").Index(j), "%q is not accepted: only asymmetric algorithms are (%s)", a, strings.Join(AsymmetricAlgorithms, ", "))
		}
	}
	c.ClockSkew.Check(at.Key("clock_skew"), r)
	if c.ClockSkew.Duration > 5*time.Minute {
		r.Add(at.Key("clock_skew"), "must be at most 5m, got %s", c.ClockSkew.Duration)
	}
	c.RefetchInterval.Check(at.Key("jwks_refetch_interval"), r)
	if d := c.RefetchInterval.Duration; d > 0 && d < time.Second {
		r.Add(at.Key("jwks_refetch_interval"), "must be at least 1s: it bounds what tokens naming unknown keys cost the issuer")
	}
	c.MaxAge.Check(at.Key("jwks_max_age"), r)
}

// ValidateIssuers validates each issuer and reports one listed twice.
func ValidateIssuers(issuers []Issuer, at setting.Path, r setting.Reporter) {
	seen := map[string]bool{}
	for i := range issuers {
		c := &issuers[i]
		c.Validate(at.Index(i), r)
		if c.URL != "" && seen[c.URL] {
			r.Add(at.Index(i).Key("issuer"), "%q is listed twice", c.URL)
		}
		seen[c.URL] = true
	}
}

// loopbackHost reports whether host is a loopback address or localhost.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

package policies

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// AsymmetricAlgorithms are the JWS algorithms an issuer may be configured with.
var AsymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Token errors. Each is the reason a bearer token was refused; the 401 says which.
var (
	ErrTokenMalformed   = errors.New("the token is not a signed JWT")
	ErrTokenAlgorithm   = errors.New("the token's signature algorithm is not accepted")
	ErrTokenIssuer      = errors.New("the token's issuer is not trusted")
	ErrTokenAudience    = errors.New("the token is not meant for this audience")
	ErrTokenExpired     = errors.New("the token has expired")
	ErrTokenNotYetValid = errors.New("the token is not valid yet")
	ErrTokenUnknownKey  = errors.New("the token is signed with a key the issuer does not publish")
	ErrTokenSignature   = errors.New("the token's signature is not valid")
	ErrTokenSubject     = errors.New("the token has no subject")
	ErrIssuerDown       = errors.New("the token's issuer cannot be reached to fetch its keys")
)

// Tokens verifies bearer tokens of one or more issuers. It is safe for concurrent
// use; keys are fetched when first needed, so a gateway starts while an issuer is
// down.
type Tokens struct {
	issuers map[string]*issuer
	algs    []jose.SignatureAlgorithm // the union of the issuers', for a first parse
	cache   tokenCache
}

// tokenCache remembers the tokens verified lately, so that a client sending the
// same token with every request pays for its signature once (about 50 µs for
// RS256, 90 µs for ES256), not every time. An entry holds until the token
// expires, and only while the key set it was verified with is the one held and
// is not due for a refresh: a withdrawn key stops counting as soon as the gateway
// learns of it. At most maxCachedTokens are held; past that, one is dropped for
// each one added.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedToken
}

const maxCachedTokens = 10000

type cachedToken struct {
	p     *Principal
	iss   *issuer
	keys  *keySet
	until time.Time
}

func (c *tokenCache) get(h [sha256.Size]byte, now time.Time) *Principal {
	c.mu.RLock()
	e, ok := c.entries[h]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || e.iss.keys.Load() != e.keys {
		return nil
	}
	if e.iss.cfg.Now != nil { // the keys' age is by the issuer's clock
		now = e.iss.cfg.Now()
	}
	if now.Sub(e.keys.fetched) > e.iss.cfg.MaxAge.Duration {
		return nil
	}
	return e.p
}

func (c *tokenCache) put(h [sha256.Size]byte, e cachedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[sha256.Size]byte]cachedToken{}
	}
	if len(c.entries) >= maxCachedTokens {
		for k := range c.entries { // a random one
			delete(c.entries, k)
			break
		}
	}
	c.entries[h] = e
}

// NewTokens checks the issuers' settings and returns the verifier.
func NewTokens(issuers []Issuer) (*Tokens, error) {
	t := &Tokens{issuers: map[string]*issuer{}}
	for _, c := range issuers {
		// What the tokens cannot work without; Validate adds the bounds a
		// configuration file is held to.
		if c.URL == "" {
			return nil, errors.New("an issuer needs its URL")
		}
		if _, dup := t.issuers[c.URL]; dup {
			return nil, fmt.Errorf("issuer %q is listed twice", c.URL)
		}
		if len(c.Audiences) == 0 {
			return nil, fmt.Errorf("issuer %q: name the audiences its tokens must carry", c.URL)
		}
		c.SetDefaults()
		for _, a := range c.Algorithms {
			if !slices.Contains(AsymmetricAlgorithms, a) {
				return nil, fmt.Errorf("issuer %q: algorithm %q is not accepted (one of %s)", c.URL, a, strings.Join(AsymmetricAlgorithms, ", "))
			}
			if !slices.Contains(t.algs, jose.SignatureAlgorithm(a)) {
				t.algs = append(t.algs, jose.SignatureAlgorithm(a))
			}
		}
		if c.Client == nil {
			c.Client = &http.Client{Timeout: 10 * time.Second}
		}
		if c.Log == nil {
			c.Log = slog.New(slog.DiscardHandler)
		}
		iss := &issuer{cfg: c}
		for _, a := range c.Algorithms {
			iss.algs = append(iss.algs, jose.SignatureAlgorithm(a))
		}
		iss.verifier = oidc.NewVerifier(c.URL, iss, &oidc.Config{
			SupportedSigningAlgs: c.Algorithms,
			SkipClientIDCheck:    true, // several audiences: checked below
			SkipExpiryCheck:      true, // with the configured skew: checked below
		})
		t.issuers[c.URL] = iss
	}
	return t, nil
}

// Adopt takes over the fetched keys of prev's issuers that are configured as
// before, so that a reload neither refetches them nor forgets what it learnt.
func (t *Tokens) Adopt(prev *Tokens) {
	if t == nil || prev == nil {
		return
	}
	for url, iss := range t.issuers {
		old, ok := prev.issuers[url]
		if !ok || !slices.Equal(old.cfg.Algorithms, iss.cfg.Algorithms) {
			continue
		}
		iss.jwksURL.Store(old.jwksURL.Load())
		iss.keys.Store(old.keys.Load())
	}
}

// Verify checks a bearer token and returns its principal. The error is one of the
// Err* token errors.
func (t *Tokens) Verify(ctx context.Context, raw string) (*Principal, error) {
	h := sha256.Sum256([]byte(raw))
	now := time.Now()
	if p := t.cache.get(h, now); p != nil {
		return p, nil
	}
	jws, err := jose.ParseSignedCompact(raw, t.algs)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, ErrTokenAlgorithm
		}
		return nil, ErrTokenMalformed
	}
	if len(jws.Signatures) != 1 {
		return nil, ErrTokenMalformed
	}
	var head struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &head) != nil {
		return nil, ErrTokenMalformed
	}
	iss := t.issuers[head.Issuer]
	if iss == nil {
		return nil, ErrTokenIssuer
	}
	keys := iss.keys.Load() // verified with these, or with newer ones
	p, exp, err := iss.verify(ctx, raw, jws, now)
	if err != nil {
		return nil, err
	}
	if keys == nil {
		keys = iss.keys.Load()
	}
	t.cache.put(h, cachedToken{p: p, iss: iss, keys: keys, until: exp.Add(iss.cfg.ClockSkew.Duration)})
	return p, nil
}

// issuer is one trusted issuer and what has been fetched of it. It is the
// oidc.KeySet of its verifier.
type issuer struct {
	cfg      Issuer
	algs     []jose.SignatureAlgorithm // cfg.Algorithms
	verifier *oidc.IDTokenVerifier
	jwksURL  atomic.Pointer[string]
	keys     atomic.Pointer[keySet]
	lastTry  atomic.Int64 // when the last fetch was claimed, in Unix nanoseconds; 0: never
	fetching atomic.Bool  // a fetch is under way
	fetches  singleflight.Group
}

// now is the time by the issuer's clock.
func (iss *issuer) now() time.Time {
	if iss.cfg.Now != nil {
		return iss.cfg.Now()
	}
	return time.Now()
}

// verifyState passes to VerifySignature, which go-oidc calls with the raw token
// only, the token as Verify parsed it, and brings back the signature check's
// reason, which go-oidc does not wrap.
type verifyState struct {
	jws *jose.JSONWebSignature
	err error
}

type verifyStateKey struct{}

// verify checks raw (parsed as jws) and returns its principal and expiry.
func (iss *issuer) verify(ctx context.Context, raw string, jws *jose.JSONWebSignature, now time.Time) (*Principal, time.Time, error) {
	state := &verifyState{jws: jws}
	tok, err := iss.verifier.Verify(context.WithValue(ctx, verifyStateKey{}, state), raw)
	if state.err != nil {
		return nil, time.Time{}, state.err
	}
	if err != nil {
		if strings.Contains(err.Error(), "different provider") {
			return nil, time.Time{}, ErrTokenIssuer
		}
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, time.Time{}, ErrTokenAlgorithm
		}
		return nil, time.Time{}, ErrTokenMalformed
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(iss.cfg.Audiences, a) }) {
		return nil, time.Time{}, ErrTokenAudience
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, time.Time{}, ErrTokenMalformed
	}
	skew := iss.cfg.ClockSkew.Duration
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, time.Time{}, ErrTokenMalformed // a token without an expiry is not accepted
	}
	if now.After(exp.Add(skew)) {
		return nil, time.Time{}, ErrTokenExpired
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(skew).Before(nbf) {
		return nil, time.Time{}, ErrTokenNotYetValid
	}
	if iat, ok := numericDate(claims["iat"]); ok && now.Add(skew).Before(iat) {
		return nil, time.Time{}, ErrTokenNotYetValid
	}
	p := &Principal{Issuer: iss.cfg.URL}
	p.Subject, _ = claims[iss.cfg.SubjectClaim].(string)
	if p.Subject == "" {
		return nil, time.Time{}, ErrTokenSubject
	}
	switch s := claims[iss.cfg.ScopesClaim].(type) {
	case string:
		p.Scopes = strings.Fields(s)
	case []any:
		for _, v := range s {
			if v, ok := v.(string); ok {
				p.Scopes = append(p.Scopes, v)
			}
		}
	}
	for _, name := range iss.cfg.Claims {
		if v, ok := claims[name]; ok {
			if p.Claims == nil {
				p.Claims = map[string]any{}
			}
			p.Claims[name] = v
		}
	}
	return p, exp, nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch).
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > 1<<40 { // past the year 36000: not a date
		return time.Time{}, false
	}
	return time.Unix(int64(f), int64((f-float64(int64(f)))*1e9)), true
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(scheme):])
	return tok, tok != "" && !strings.ContainsAny(tok, " \t")
}

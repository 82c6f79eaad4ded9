package policies

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/switchyard/switchyard/policies/oidctest"
	"github.com/switchyard/switchyard/setting"
)

// testClock is a clock the test moves, for the issuers' key fetches.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTokens(t *testing.T, iss *oidctest.Issuer, edit func(*Issuer)) *Tokens {
	t.Helper()
	c := Issuer{URL: iss.URL, Audiences: []string{"switchyard"}, ClockSkew: setting.D(30 * time.Second), Claims: []string{"email"}}
	if edit != nil {
		edit(&c)
	}
	tokens, err := NewTokens([]Issuer{c})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// TestTokens verifies tokens of a real (loopback) issuer: every way a token can be
// wrong is refused with its own reason.
func TestTokens(t *testing.T) {
	iss := oidctest.New(t)
	other := oidctest.New(t)
	tokens := newTokens(t, iss, nil)
	ctx := context.Background()

	claims := func(edit func(map[string]any)) map[string]any {
		c := iss.Claims("u1", "switchyard")
		c["scope"] = "read admin"
		c["email"] = "ada@example.com"
		if edit != nil {
			edit(c)
		}
		return c
	}
	now := time.Now()
	valid := iss.Sign(t, "rsa-1", claims(nil))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(`{"iss":"`+iss.URL+`","sub":"admin","aud":"switchyard","exp":9999999999,"scope":"admin"}`) + "." + parts[2]

	for _, tc := range []struct {
		name, token string
		want        error
	}{
		{"valid RS256", valid, nil},
		{"valid ES256", iss.Sign(t, "ec-1", claims(nil)), nil},
		{"audience in a list", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["aud"] = []string{"other", "switchyard"} })), nil},
		{"expired within the skew", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() })), nil},
		{"expired", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), ErrTokenExpired},
		{"no expiry", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { delete(c, "exp") })), ErrTokenMalformed},
		{"not yet valid", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })), ErrTokenNotYetValid},
		{"issued in the future", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })), ErrTokenNotYetValid},
		{"wrong audience", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["aud"] = "someone-else" })), ErrTokenAudience},
		{"untrusted issuer", other.Sign(t, "rsa-1", other.Claims("u1", "switchyard")), ErrTokenIssuer},
		{"issuer's key, other iss", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { c["iss"] = other.URL })), ErrTokenIssuer},
		{"no subject", iss.Sign(t, "rsa-1", claims(func(c map[string]any) { delete(c, "sub") })), ErrTokenSubject},
		{"alg none", oidctest.Unsigned(claims(nil)), ErrTokenAlgorithm},
		{"HS256 with the RSA public key", iss.HMACWithPublicKey(t, claims(nil)), ErrTokenAlgorithm},
		{"tampered payload", tampered, ErrTokenSignature},
		{"not a JWT", "abc.def", ErrTokenMalformed},
		{"garbage", "eyJhbGciOiJSUzI1NiJ9.!!!.???", ErrTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tokens.Verify(ctx, tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && (p.Subject != "u1" || !p.HasScope("admin") || !p.HasScope("read") || p.Claims["email"] != "ada@example.com" || p.Issuer != iss.URL) {
				t.Fatalf("principal = %+v", p)
			}
		})
	}
	if n := iss.Discoveries.Load(); n != 1 {
		t.Errorf("discovery fetched %d times, want once", n)
	}
}

// TestTokensKeyRotation: a key the issuer publishes after the gateway fetched its
// set is accepted at once; a withdrawn key is refused once the set is refetched.
func TestTokensKeyRotation(t *testing.T) {
	iss := oidctest.New(t)
	clock := newTestClock()
	tokens := newTokens(t, iss, func(c *Issuer) { c.RefetchInterval, c.Now = setting.D(time.Millisecond), clock.Now })
	ctx := context.Background()
	first := iss.Token(t, "u1", "switchyard")
	for range 2 { // verified, then from the cache
		if _, err := tokens.Verify(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	old := iss.Token(t, "u1", "switchyard")
	clock.Advance(2 * time.Millisecond) // past the refetch interval
	iss.Rotate(t)
	if _, err := tokens.Verify(ctx, iss.Token(t, "u1", "switchyard")); err != nil {
		t.Fatalf("a token signed with the new key: %v", err)
	}
	for _, tok := range []string{old, first} { // first was cached: no longer
		if _, err := tokens.Verify(ctx, tok); !errors.Is(err, ErrTokenUnknownKey) {
			t.Fatalf("a token signed with the withdrawn key: %v, want %v", err, ErrTokenUnknownKey)
		}
	}
}

// TestTokensUnknownKeyFlood: tokens naming keys the issuer does not publish cost
// the issuer one key-set fetch per refetch interval, however many arrive at once.
func TestTokensUnknownKeyFlood(t *testing.T) {
	iss := oidctest.New(t)
	tokens := newTokens(t, iss, func(c *Issuer) { c.RefetchInterval = setting.D(time.Hour) })
	ctx := context.Background()
	if _, err := tokens.Verify(ctx, iss.Token(t, "u1", "switchyard")); err != nil {
		t.Fatal(err)
	}
	base := iss.KeyFetches.Load()
	var wg sync.WaitGroup
	for n := range 50 {
		kid := "made-up-" + string(rune('a'+n%26)) + string(rune('a'+n/26))
		iss.Unpublished(t, kid)
		tok := iss.Sign(t, kid, iss.Claims("u1", "switchyard"))
		wg.Go(func() {
			if _, err := tokens.Verify(ctx, tok); !errors.Is(err, ErrTokenUnknownKey) {
				t.Errorf("err = %v, want %v", err, ErrTokenUnknownKey)
			}
		})
	}
	wg.Wait()
	if n := iss.KeyFetches.Load() - base; n > 1 {
		t.Errorf("50 tokens with unknown keys fetched the key set %d times, want at most 1", n)
	}
	// A tampered token with a known key fetches nothing.
	tok := iss.Token(t, "u1", "switchyard")
	if _, err := tokens.Verify(ctx, tok[:len(tok)-4]+"AAAA"); !errors.Is(err, ErrTokenSignature) {
		t.Errorf("err = %v, want %v", err, ErrTokenSignature)
	}
}

// TestTokensIssuerDown: while the issuer cannot be reached, tokens are refused as
// "issuer down" (not as invalid) and the issuer is asked once per interval; when it
// is back, tokens pass. Keys already held keep serving while it is down.
func TestTokensIssuerDown(t *testing.T) {
	iss := oidctest.New(t)
	iss.SetDown(true)
	clock := newTestClock()
	tokens := newTokens(t, iss, func(c *Issuer) {
		c.RefetchInterval = setting.D(50 * time.Millisecond)
		c.MaxAge = setting.D(time.Millisecond)
		c.Now = clock.Now
	})
	ctx := context.Background()
	for range 5 {
		if _, err := tokens.Verify(ctx, iss.Token(t, "u1", "switchyard")); !errors.Is(err, ErrIssuerDown) {
			t.Fatalf("err = %v, want %v", err, ErrIssuerDown)
		}
	}
	if n := iss.Discoveries.Load(); n != 1 {
		t.Errorf("discovery asked %d times within the interval, want 1", n)
	}
	iss.SetDown(false)
	clock.Advance(60 * time.Millisecond) // past the refetch interval
	if _, err := tokens.Verify(ctx, iss.Token(t, "u1", "switchyard")); err != nil {
		t.Fatal(err)
	}
	iss.SetDown(true)
	clock.Advance(60 * time.Millisecond) // the keys are stale, the refetch fails: they still serve
	if _, err := tokens.Verify(ctx, iss.Token(t, "u1", "switchyard")); err != nil {
		t.Fatalf("held keys while the issuer is down: %v", err)
	}
}

func TestNewTokensRefusesSymmetricAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "none", "RS1"} {
		if _, err := NewTokens([]Issuer{{URL: "https://issuer.example", Audiences: []string{"a"}, Algorithms: []string{alg}}}); err == nil {
			t.Errorf("algorithm %q accepted", alg)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// BenchmarkVerifyToken is the cost of checking one bearer token, keys held: its
// signature and claims (first use), and a token seen before (the cache).
func BenchmarkVerifyToken(b *testing.B) {
	iss := oidctest.New(b)
	tokens, err := NewTokens([]Issuer{{URL: iss.URL, Audiences: []string{"switchyard"}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, kid := range []string{"rsa-1", "ec-1"} {
		tok := iss.Sign(b, kid, iss.Claims("u1", "switchyard"))
		b.Run(kid+"/signature", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(tok, tokens.algs)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := tokens.issuers[iss.URL].verify(context.Background(), tok, jws, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kid+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tokens.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTokensStaleKeysRefreshInBackground: once the key set is older than MaxAge, a
// request is still served by the keys held while the set is fetched behind it;
// after that fetch, a key the issuer withdrew is refused.
func TestTokensStaleKeysRefreshInBackground(t *testing.T) {
	iss := oidctest.New(t)
	clock := newTestClock()
	tokens := newTokens(t, iss, func(c *Issuer) {
		c.MaxAge = setting.D(time.Millisecond)
		c.RefetchInterval = setting.D(time.Millisecond)
		c.Now = clock.Now
	})
	ctx := context.Background()
	var signed []string // three tokens of the key about to be withdrawn
	for _, jti := range []string{"1", "2", "3"} {
		c := iss.Claims("u1", "switchyard")
		c["jti"] = jti
		signed = append(signed, iss.Sign(t, "rsa-1", c))
	}
	if _, err := tokens.Verify(ctx, signed[0]); err != nil {
		t.Fatal(err)
	}
	held := tokens.issuers[iss.URL].keys.Load()
	iss.Rotate(t)                       // rsa-1 withdrawn
	clock.Advance(5 * time.Millisecond) // the set is stale
	if _, err := tokens.Verify(ctx, signed[1]); err != nil {
		t.Fatalf("with a stale set, the keys held serve: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tokens.issuers[iss.URL].keys.Load() == held {
		if time.Now().After(deadline) {
			t.Fatal("the stale key set was never fetched again")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := tokens.Verify(ctx, signed[2]); !errors.Is(err, ErrTokenUnknownKey) {
		t.Fatalf("a withdrawn key after the refresh: %v", err)
	}
}

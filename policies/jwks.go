package policies

// An issuer's key set: fetched from its JWKS, refetched when a token names a key
// not held (at most once per RefetchInterval), and used to check signatures.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

type keySet struct {
	keys    []jose.JSONWebKey
	fetched time.Time
}

// VerifySignature implements oidc.KeySet. A token naming a key not held triggers
// a fetch of the key set, at most one per RefetchInterval; a token whose
// signature does not verify with a held key never does.
func (iss *issuer) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	state, _ := ctx.Value(verifyStateKey{}).(*verifyState)
	var jws *jose.JSONWebSignature
	if state != nil {
		jws = state.jws // go-oidc has checked its algorithm against this issuer's
	} else {
		var err error
		if jws, err = jose.ParseSignedCompact(raw, iss.algs); err != nil {
			return nil, ErrTokenMalformed
		}
	}
	payload, err := iss.verifySignature(ctx, jws)
	if err != nil && state != nil {
		state.err = err
	}
	return payload, err
}

func (iss *issuer) verifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, ErrTokenMalformed
	}
	head := jws.Signatures[0].Header
	ks := iss.keys.Load()
	switch {
	case ks == nil: // never fetched, or every fetch failed
		if !iss.fetching.Load() && !iss.mayFetch() {
			return nil, ErrIssuerDown
		}
		var err error
		if ks, err = iss.fetch(ctx); err != nil {
			return nil, err
		}
	case iss.now().Sub(ks.fetched) > iss.cfg.MaxAge.Duration && iss.mayFetch():
		// Refreshed behind this request, which the keys held still serve: no
		// request waits on a slow issuer for keys it has.
		go func() { _, _ = iss.fetch(context.WithoutCancel(ctx)) }()
	}
	candidates := ks.matching(head)
	if len(candidates) == 0 && (iss.fetching.Load() || iss.mayFetch()) { // join a fetch under way
		if fresh, err := iss.fetch(ctx); err == nil {
			ks = fresh
			candidates = ks.matching(head)
		}
	}
	if len(candidates) == 0 {
		return nil, ErrTokenUnknownKey
	}
	for _, k := range candidates {
		if payload, err := jws.Verify(&k); err == nil {
			return payload, nil
		}
	}
	return nil, ErrTokenSignature
}

// mayFetch reports whether RefetchInterval has passed since the last fetch began,
// and if so claims the next fetch for its caller: of callers asking at once, one
// is told yes.
func (iss *issuer) mayFetch() bool {
	last := iss.lastTry.Load()
	now := iss.now()
	if now.Sub(time.Unix(0, last)) < iss.cfg.RefetchInterval.Duration {
		return false
	}
	return iss.lastTry.CompareAndSwap(last, now.UnixNano())
}

// matching returns the held keys that may have signed a token with this header:
// the key it names (or, naming none, every key) whose type fits the algorithm.
func (ks *keySet) matching(head jose.Header) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range ks.keys {
		if head.KeyID != "" && k.KeyID != head.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != head.Algorithm {
			continue
		}
		if !keyFits(k, head.Algorithm) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// keyFits reports whether a key of k's type can verify alg: an RSA key only RS*
// and PS*, an EC key only ES*, an Ed25519 key only EdDSA.
func keyFits(k jose.JSONWebKey, alg string) bool {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// fetch discovers the issuer (once) and fetches its key set, one fetch at a time
// however many callers ask. The fetch outlives a caller that gives up.
func (iss *issuer) fetch(ctx context.Context) (*keySet, error) {
	ch := iss.fetches.DoChan("keys", func() (any, error) {
		iss.fetching.Store(true)
		defer iss.fetching.Store(false)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		ks, err := iss.fetchKeys(ctx)
		if err != nil {
			iss.cfg.Log.Warn("issuer keys cannot be fetched", "issuer", iss.cfg.URL, "error", err)
			return nil, ErrIssuerDown
		}
		if old := iss.keys.Load(); old == nil || !sameKeys(old.keys, ks.keys) {
			iss.cfg.Log.Info("issuer keys fetched", "issuer", iss.cfg.URL, "keys", len(ks.keys))
		}
		iss.keys.Store(ks)
		return ks, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*keySet), nil
	case <-ctx.Done():
		return nil, ErrIssuerDown
	}
}

func (iss *issuer) fetchKeys(ctx context.Context) (*keySet, error) {
	ctx = oidc.ClientContext(ctx, iss.cfg.Client)
	jwksURL := iss.jwksURL.Load()
	if jwksURL == nil {
		provider, err := oidc.NewProvider(ctx, iss.cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		var meta struct {
			JWKS string `json:"jwks_uri"`
		}
		if err := provider.Claims(&meta); err != nil || meta.JWKS == "" {
			return nil, errors.New("discovery: the document has no jwks_uri")
		}
		jwksURL = &meta.JWKS
		iss.jwksURL.Store(jwksURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *jwksURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := iss.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key set: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	ks := &keySet{fetched: iss.now()}
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		// A key of a type or curve not understood, a symmetric key, or one not
		// for signatures is left out; the others still count.
		if k.UnmarshalJSON(raw) != nil || !k.Valid() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		if keyFits(k, "RS256") || keyFits(k, "ES256") || keyFits(k, "EdDSA") {
			ks.keys = append(ks.keys, k)
		}
	}
	return ks, nil
}

func sameKeys(a, b []jose.JSONWebKey) bool {
	return slices.EqualFunc(a, b, func(x, y jose.JSONWebKey) bool { return x.KeyID == y.KeyID })
}

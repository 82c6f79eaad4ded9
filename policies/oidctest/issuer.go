// Package oidctest is an OpenID Connect issuer for tests: it serves discovery and a
// JWKS on loopback and signs tokens with real RSA and EC keys, which a test may
// rotate while the gateway runs.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running test issuer. Its URL is the "iss" of its tokens.
type Issuer struct {
	URL string
	// Discoveries and KeyFetches count the requests for the discovery document
	// and for the key set.
	Discoveries, KeyFetches atomic.Int64

	srv     *httptest.Server
	mu      sync.Mutex
	keys    map[string]key // by kid
	serial  int
	down    bool
	rsaLast string
}

type key struct {
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
	public bool // published in the key set
}

// New starts an issuer with an RSA key ("rsa-1", RS256) and an EC key ("ec-1",
// ES256), both published. It stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{keys: map[string]key{}}
	i.AddRSA(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i.keys["ec-1"] = key{alg: jose.ES256, signer: ec, public: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		i.Discoveries.Add(1)
		if i.isDown(w) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + "/keys",
			"authorization_endpoint":                i.URL + "/authorize",
			"token_endpoint":                        i.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		i.KeyFetches.Add(1)
		if i.isDown(w) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(i.keySet())
	})
	i.srv = httptest.NewServer(mux)
	i.URL = i.srv.URL
	t.Cleanup(i.srv.Close)
	return i
}

func (i *Issuer) isDown(w http.ResponseWriter) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return i.down
}

// SetDown makes the issuer answer 503 to everything, or serve again.
func (i *Issuer) SetDown(down bool) {
	i.mu.Lock()
	i.down = down
	i.mu.Unlock()
}

func (i *Issuer) keySet() jose.JSONWebKeySet {
	i.mu.Lock()
	defer i.mu.Unlock()
	var set jose.JSONWebKeySet
	for kid, k := range i.keys {
		if k.public {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.signer.Public(), KeyID: kid, Algorithm: string(k.alg), Use: "sig"})
		}
	}
	return set
}

// AddRSA makes a new published RSA key and returns its kid ("rsa-N").
func (i *Issuer) AddRSA(t testing.TB) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.serial++
	kid := fmt.Sprintf("rsa-%d", i.serial)
	i.keys[kid] = key{alg: jose.RS256, signer: k, public: true}
	i.rsaLast = kid
	return kid
}

// Rotate publishes a new RSA key in place of the newest one, which is withdrawn,
// and returns the new kid.
func (i *Issuer) Rotate(t testing.TB) string {
	t.Helper()
	i.mu.Lock()
	old := i.rsaLast
	i.mu.Unlock()
	kid := i.AddRSA(t)
	i.mu.Lock()
	delete(i.keys, old)
	i.mu.Unlock()
	return kid
}

// Unpublished makes an EC key kid (ES256) that the issuer signs with but does not
// publish.
func (i *Issuer) Unpublished(t testing.TB, kid string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	i.keys[kid] = key{alg: jose.ES256, signer: k}
	i.mu.Unlock()
}

// Claims are a token's claims for subject and audience, valid for an hour.
func (i *Issuer) Claims(subject, audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": i.URL, "sub": subject, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Sign signs claims with the key kid.
func (i *Issuer) Sign(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	i.mu.Lock()
	k, ok := i.keys[kid]
	i.mu.Unlock()
	if !ok {
		t.Fatalf("no key %q", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.signer},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Token is a valid token for subject and audience signed with the newest RSA key.
func (i *Issuer) Token(t testing.TB, subject, audience string) string {
	i.mu.Lock()
	kid := i.rsaLast
	i.mu.Unlock()
	return i.Sign(t, kid, i.Claims(subject, audience))
}

// Unsigned is a token with "alg": "none" and no signature.
func Unsigned(claims map[string]any) string {
	return compact(map[string]any{"alg": "none", "typ": "JWT"}, claims, nil)
}

// HMACWithPublicKey is the algorithm-confusion attack: an HS256 token whose HMAC
// secret is the PEM of the issuer's newest RSA public key, with that key's kid.
func (i *Issuer) HMACWithPublicKey(t testing.TB, claims map[string]any) string {
	t.Helper()
	i.mu.Lock()
	kid := i.rsaLast
	pub := i.keys[kid].signer.Public()
	i.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return compact(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, claims, func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	})
}

func compact(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if sign == nil {
		return in + "."
	}
	return in + "." + enc.EncodeToString(sign([]byte(in)))
}

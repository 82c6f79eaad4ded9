package policies

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
)

// APIKey is a machine client's key as the configuration holds it: only its SHA-256.
type APIKey struct {
	Name    string   // names the client in logs
	SHA256  string   // hex of the SHA-256 of the key
	Subject string   // the principal's subject; default "apikey:" + Name
	Scopes  []string // what the key grants
	// RateLimit, when set, is the key's rate-limit tier.
	RateLimit *Rate
}

// Authenticator identifies callers by API key, sent in a header. Keys are compared
// by hash in constant time. It is safe for concurrent use.
type Authenticator struct {
	header   string
	required bool
	keys     []apiKey
	// OnDecision, when set, is told the outcome of every authentication:
	// "authenticated", "anonymous", "missing" (refused: required) or "invalid".
	OnDecision func(result string)
}

func (a *Authenticator) decided(result string) {
	if a.OnDecision != nil {
		a.OnDecision(result)
	}
}

type apiKey struct {
	hash [sha256.Size]byte
	p    *Principal
}

// NewAuthenticator checks the keys and returns the authenticator. With required, a
// request without credentials is refused with 401.
func NewAuthenticator(header string, required bool, keys []APIKey) (*Authenticator, error) {
	a := &Authenticator{header: header, required: required}
	for _, k := range keys {
		raw, err := hex.DecodeString(k.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("api key %q: sha256 must be 64 hex digits", k.Name)
		}
		subject := k.Subject
		if subject == "" {
			subject = "apikey:" + k.Name
		}
		var h [sha256.Size]byte
		copy(h[:], raw)
		a.keys = append(a.keys, apiKey{hash: h, p: &Principal{Subject: subject, Scopes: k.Scopes, RateLimit: k.RateLimit}})
	}
	return a, nil
}

// Middleware puts the caller's principal in the request's context. A key that is
// not known is a 401 whether or not authentication is required: a wrong credential is
// an error, not anonymity.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(a.header)
		if key == "" {
			if a.required {
				a.decided("missing")
				unauthorized(w, "authentication is required")
				return
			}
			a.decided("anonymous")
			next.ServeHTTP(w, r)
			return
		}
		p := a.lookup(key)
		if p == nil {
			a.decided("invalid")
			unauthorized(w, "the API key is not valid")
			return
		}
		a.decided("authenticated")
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// lookup compares the key's hash with every known one, in constant time each, so
// that the time taken says nothing of which key came close.
func (a *Authenticator) lookup(key string) *Principal {
	h := sha256.Sum256([]byte(key))
	var found *Principal
	for _, k := range a.keys {
		if subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1 {
			found = k.p
		}
	}
	return found
}

// unauthorized answers 401 with a challenge and a coded GraphQL error.
func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = fmt.Fprintf(w, `{"errors":[{"message":%q,"extensions":{"code":"UNAUTHENTICATED"}}]}`, msg)
}

package policies

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/httperr"
	"github.com/switchyard/switchyard/setting"
)

// APIKey is a machine client's key as the configuration holds it: only its SHA-256.
type APIKey struct {
	Name    string   `yaml:"name"`    // names the client in logs; required, unique
	SHA256  string   `yaml:"sha256"`  // hex of the SHA-256 of the key (echo -n KEY | sha256sum)
	Subject string   `yaml:"subject"` // the principal's subject; default "apikey:" + Name
	Scopes  []string `yaml:"scopes"`  // what the key grants
	// RateLimit, when set, is the key's own rate-limit tier, in place of the
	// per-caller one.
	RateLimit *Rate `yaml:"rate_limit"`
}

// ValidateAPIKeys reports, under at, keys without a name or with one listed twice,
// hashes that are not SHA-256 in hex, and bad rate limits.
func ValidateAPIKeys(keys []APIKey, at setting.Path, r setting.Reporter) {
	names := map[string]bool{}
	for i, k := range keys {
		at := at.Index(i)
		if k.Name == "" {
			r.Add(at.Key("name"), "every key needs a name")
		} else if names[k.Name] {
			r.Add(at.Key("name"), "%q is listed twice", k.Name)
		}
		names[k.Name] = true
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			r.Add(at.Key("sha256"), "must be the 64 hex digits of the key's SHA-256, not the key")
		}
		if k.RateLimit != nil {
			k.RateLimit.Validate(at.Key("rate_limit"), r)
		}
	}
}

// Authenticator identifies callers by API key, sent in a header, or by an OIDC
// bearer token. Keys are compared by hash in constant time. It is safe for
// concurrent use.
type Authenticator struct {
	header   string
	required bool
	keys     []apiKey
	tokens   *Tokens // nil: no issuer is trusted, and Authorization is not read
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

// AuthOptions configure an Authenticator.
type AuthOptions struct {
	// Required refuses a request without credentials with 401.
	Required bool
	// APIKeyHeader is the header API keys are sent in.
	APIKeyHeader string
	// APIKeys are the machine clients.
	APIKeys []APIKey
	// Issuers are the OIDC issuers whose bearer tokens are accepted.
	Issuers []Issuer
}

// NewAuthenticator checks the options and returns the authenticator.
func NewAuthenticator(o AuthOptions) (*Authenticator, error) {
	a := &Authenticator{header: o.APIKeyHeader, required: o.Required}
	if len(o.Issuers) > 0 {
		if strings.EqualFold(o.APIKeyHeader, "Authorization") {
			return nil, errors.New("the API key header cannot be Authorization when bearer tokens are accepted")
		}
		var err error
		if a.tokens, err = NewTokens(o.Issuers); err != nil {
			return nil, err
		}
	}
	for _, k := range o.APIKeys {
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

// Adopt takes over what prev learnt of the issuers configured in both (their
// discovery and keys).
func (a *Authenticator) Adopt(prev *Authenticator) {
	if prev != nil {
		a.tokens.Adopt(prev.tokens)
	}
}

// Middleware puts the caller's principal in the request's context. A key or token
// that is not valid is a 401 whether or not authentication is required: a wrong
// credential is an error, not anonymity.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(a.header)
		if a.tokens != nil {
			if h := r.Header.Get("Authorization"); h != "" {
				a.bearer(w, r, h, key != "", next)
				return
			}
		}
		if key == "" {
			if a.required {
				a.decided("missing")
				unauthorized(w, r, "authentication is required")
				return
			}
			a.decided("anonymous")
			next.ServeHTTP(w, r)
			return
		}
		p := a.lookup(key)
		if p == nil {
			a.decided("invalid")
			unauthorized(w, r, "the API key is not valid")
			return
		}
		a.decided("authenticated")
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// bearer authenticates the request by its bearer token.
func (a *Authenticator) bearer(w http.ResponseWriter, r *http.Request, header string, withKey bool, next http.Handler) {
	if withKey {
		a.decided("invalid")
		unauthorized(w, r, "send an API key or a bearer token, not both")
		return
	}
	tok, ok := bearer(header)
	if !ok {
		a.decided("invalid")
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard", error="invalid_request"`)
		unauthorized(w, r, "the Authorization header must be: Bearer TOKEN")
		return
	}
	p, err := a.tokens.Verify(r.Context(), tok)
	if err != nil {
		a.decided("invalid")
		if errors.Is(err, ErrIssuerDown) {
			// Not the caller's fault: the token may be good.
			w.Header().Set("Retry-After", "5")
			writeError(w, r, http.StatusServiceUnavailable, CodeUnauthenticated, err.Error())
			return
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="switchyard", error="invalid_token", error_description=%q`, err.Error()))
		unauthorized(w, r, err.Error())
		return
	}
	a.decided("authenticated")
	next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
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

// unauthorized answers 401 with a challenge (unless one is set) and a coded
// error.
func unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	if w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
	}
	writeError(w, r, http.StatusUnauthorized, CodeUnauthenticated, msg)
}

type restErrorsKey struct{}

// RESTErrors makes the refusals of the policies around next (authentication,
// requirements, rate limits) plain JSON, {"error":{"code","message"}}, as REST
// clients expect, rather than GraphQL errors.
func RESTErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), restErrorsKey{}, true)))
	})
}

// writeError answers status with one coded error: a GraphQL error, or a REST one
// under RESTErrors.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if r.Context().Value(restErrorsKey{}) != nil {
		httperr.REST(w, status, code, msg)
		return
	}
	httperr.GraphQL(w, status, code, msg)
}

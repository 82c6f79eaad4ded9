package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// CodeNotTrusted is the code of an operation that is not a trusted document.
// Clients get it with HTTP 400.
const CodeNotTrusted = "PERSISTED_QUERY_NOT_IN_LIST"

// TrustedDocuments is a gqlgen extension that runs only the operations of an
// allow-list (trusted documents, also called persisted operations or a safelist):
// a request sends either a listed document's text or only its SHA-256 in
// extensions.persistedQuery.sha256Hash, as Apollo's and Relay's clients do. Anything
// else is refused before it is parsed. Register it before the APQ extension, so that
// APQ cannot serve a document that is not listed.
type TrustedDocuments struct {
	byHash map[string]string // hex SHA-256 of the text -> text
}

var (
	_ graphql.HandlerExtension          = (*TrustedDocuments)(nil)
	_ graphql.OperationParameterMutator = (*TrustedDocuments)(nil)
)

// LoadTrustedDocuments reads a manifest: either Apollo's persisted query manifest
// ({"format": "apollo-persisted-query-manifest", "operations": [{"id", "body"}]}) or a
// JSON object from hash to text, as graphql-codegen's persisted documents and Relay
// write it. Every id must be the SHA-256 of its text.
func LoadTrustedDocuments(name string) (*TrustedDocuments, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return ParseTrustedDocuments(data)
}

// ParseTrustedDocuments parses a manifest as LoadTrustedDocuments reads it.
func ParseTrustedDocuments(data []byte) (*TrustedDocuments, error) {
	var apollo struct {
		Format     string `json:"format"`
		Operations []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	docs := map[string]string{}
	if err := json.Unmarshal(data, &apollo); err == nil && apollo.Format != "" {
		if apollo.Format != "apollo-persisted-query-manifest" {
			return nil, fmt.Errorf("unknown manifest format %q", apollo.Format)
		}
		for i, op := range apollo.Operations {
			if op.Body == "" {
				return nil, fmt.Errorf("operation %d (%s) has no body", i, op.Name)
			}
			docs[op.ID] = op.Body
		}
	} else if err := json.Unmarshal(data, &docs); err != nil {
		return nil, fmt.Errorf("not a persisted query manifest (an Apollo manifest or an object from hash to document): %v", err)
	}
	t := &TrustedDocuments{byHash: map[string]string{}}
	for id, body := range docs {
		h := hashOf(body)
		if want := strings.TrimPrefix(id, "sha256:"); want != h {
			return nil, fmt.Errorf("document %q: its id is not the SHA-256 of its text (%s)", id, h)
		}
		t.byHash[h] = body
	}
	if len(t.byHash) == 0 {
		return nil, fmt.Errorf("the manifest lists no documents")
	}
	return t, nil
}

// Add trusts the documents texts, such as the gateway's own stored operations.
func (t *TrustedDocuments) Add(texts ...string) {
	for _, s := range texts {
		t.byHash[hashOf(s)] = s
	}
}

// Len returns the number of documents trusted.
func (t *TrustedDocuments) Len() int { return len(t.byHash) }

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// ExtensionName names the extension for gqlgen.
func (*TrustedDocuments) ExtensionName() string { return "TrustedDocuments" }

// Validate accepts every schema.
func (*TrustedDocuments) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters fills in the text of a document sent by hash, and
// refuses a document that is not listed.
func (t *TrustedDocuments) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query != "" {
		return t.check(p.Query)
	}
	key, pq := persistedQuery(p.Extensions)
	if key == "" {
		return nil // no query at all: gqlgen says so
	}
	var hash string
	for k, v := range pq {
		if strings.EqualFold(k, "sha256Hash") { // as leniently as APQ's decoder reads it
			hash, _ = v.(string)
		}
	}
	hash = strings.ToLower(hash)
	text, ok := t.byHash[hash]
	if !ok {
		return coded(CodeNotTrusted, "no trusted document has this hash")
	}
	p.Query = text
	// APQ, after this, compares the hash with the text's exactly.
	p.Extensions[key] = map[string]any{"version": pq["version"], "sha256Hash": hash}
	return nil
}

// persistedQuery finds the persistedQuery extension, its key matched without regard
// to case.
func persistedQuery(ext map[string]any) (string, map[string]any) {
	for k, v := range ext {
		if strings.EqualFold(k, "persistedQuery") {
			m, _ := v.(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			return k, m
		}
	}
	return "", nil
}

func (t *TrustedDocuments) check(query string) *gqlerror.Error {
	if _, ok := t.byHash[hashOf(query)]; !ok {
		return coded(CodeNotTrusted, "the operation is not one of the trusted documents")
	}
	return nil
}

// Verifier returns the extension that checks, after every other extension has had
// its say (APQ's cache above all), that the text about to run is a trusted document.
// Register it last.
func (t *TrustedDocuments) Verifier() graphql.HandlerExtension { return trustedVerifier{t} }

type trustedVerifier struct{ t *TrustedDocuments }

var _ graphql.OperationParameterMutator = trustedVerifier{}

func (trustedVerifier) ExtensionName() string                   { return "TrustedDocumentsVerifier" }
func (trustedVerifier) Validate(graphql.ExecutableSchema) error { return nil }

func (v trustedVerifier) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	return v.t.check(p.Query)
}

// OperationNames are the names of the operations the listed documents define.
func (t *TrustedDocuments) OperationNames() []string {
	var names []string
	for _, text := range t.byHash {
		doc, err := parser.ParseQuery(&ast.Source{Input: text})
		if err != nil {
			continue
		}
		for _, op := range doc.Operations {
			if op.Name != "" {
				names = append(names, op.Name)
			}
		}
	}
	return names
}

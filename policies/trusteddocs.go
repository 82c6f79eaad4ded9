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
	"github.com/vektah/gqlparser/v2/gqlerror"
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
	t := NewTrustedDocuments()
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

// NewTrustedDocuments returns an empty allow-list.
func NewTrustedDocuments() *TrustedDocuments {
	return &TrustedDocuments{byHash: map[string]string{}}
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
		if _, ok := t.byHash[hashOf(p.Query)]; !ok {
			return coded(CodeNotTrusted, "the operation is not one of the trusted documents")
		}
		return nil
	}
	pq, _ := p.Extensions["persistedQuery"].(map[string]any)
	hash, _ := pq["sha256Hash"].(string)
	if hash == "" {
		return nil // no query at all: gqlgen says so
	}
	text, ok := t.byHash[strings.ToLower(hash)]
	if !ok {
		return coded(CodeNotTrusted, "no trusted document has this hash")
	}
	p.Query = text
	return nil
}

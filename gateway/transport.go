package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/mailru/easyjson"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchyard/switchyard/httperr"
	"github.com/switchyard/switchyard/inbound"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/policies"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// Codes of errors the transport makes itself.
const (
	codeBadRequest       = "BAD_REQUEST"
	codeRequestTooLarge  = "REQUEST_TOO_LARGE"
	codeUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	codeRequestTimeout   = "REQUEST_TIMEOUT"
)

// requestBody is a POST body of GraphQL over HTTP. Variables and extensions are kept
// raw and decoded only when present, with numbers kept exact (json.Number), as gqlgen
// expects them.
//
//easyjson:json
type requestBody struct {
	Query         string              `json:"query"`
	OperationName string              `json:"operationName"`
	Variables     easyjson.RawMessage `json:"variables"`
	Extensions    easyjson.RawMessage `json:"extensions"`
}

//go:generate go run github.com/mailru/easyjson/easyjson -no_std_marshalers transport.go

// httpTransport serves GraphQL over HTTP (GET and POST) as the GraphQL-over-HTTP
// specification describes. It does what gqlgen's GET and POST transports do, and
// differs where that costs or misleads: the body is read once, under a limit, into
// a pooled buffer; the request is decoded by generated code; the answer is written
// without decoding and re-encoding the data the executor already marshalled; a POST
// of another media type is a 415, and a body over the limit a 413.
//
// With Accept: application/graphql-response+json, a request that fails before
// execution (it does not parse or validate, or its variables do not fit) is a 400;
// with application/json (or no Accept) it is a 200, as the specification says a
// server SHOULD answer there. A request that is not a GraphQL request at all (no
// query) is a 400 either way.
type httpTransport struct {
	maxBody  int64
	metrics  *metrics.Metrics // nil when disabled; for the operations that do not parse or validate
	version  string           // the schema version served, "v2"
	maxQuery int              // the longest query text accepted, in bytes; 0: any
}

var _ graphql.Transport = httpTransport{}

// Supports claims every GET and POST that is not a protocol upgrade, so that a POST
// of the wrong media type gets a clear 415 from Do rather than a generic refusal.
func (t httpTransport) Supports(r *http.Request) bool {
	return header(r.Header, hdrUpgrade) == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Do serves one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMediaType(header(r.Header, hdrAccept))
	setHeader(w.Header(), hdrContentType, media)
	var params graphql.RawParams
	params.Headers = r.Header
	params.ReadTime.Start = graphql.Now()
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	if status, err := t.readParams(w, r, buf, &params); err != nil {
		writeErrors(w, status, gqlerror.List{err})
		return
	}

	ctx := r.Context()
	opCtx, errs := exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		t.refuse(ctx, w, exec, opCtx, errs, media, buf)
		return
	}
	if rec := inbound.From(ctx); rec != nil {
		rec.Version = t.version
		rec.Operation = operationName(opCtx)
		if p := policies.PrincipalFrom(ctx); p != nil {
			rec.Principal = p.Subject
		}
	}
	if r.Method == http.MethodGet {
		if op := opCtx.Doc.Operations.ForName(opCtx.OperationName); op == nil || op.Operation != ast.Query {
			w.Header().Set("Allow", http.MethodPost)
			writeErrors(w, http.StatusMethodNotAllowed, gqlerror.List{codedError(codeMethodNotAllowed, "GET requests may only run queries; use POST")})
			return
		}
	}
	verdict := operationVerdict{request: r}
	// The operation's upstream calls share one watch of the request's end.
	ctx, watch := lb.WithWatch(ctx)
	defer watch.Stop()
	responses, ctx := exec.DispatchOperation(withVerdict(ctx, &verdict), opCtx)
	// operationHooks record the outcome; an extension that refused the operation
	// before it ran (its cost) left the answer to write.
	resp := responses(ctx)
	if verdict.refusal != nil {
		verdict.refusal(w)
		return
	}
	if resp == nil {
		// The executor gives no response once the request's context has ended. If
		// the client went away there is no one to answer; if the request's own
		// deadline passed, the client is told so.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			writeErrors(w, http.StatusGatewayTimeout, gqlerror.List{codedError(codeRequestTimeout, "the request's deadline passed before it could run")})
		}
		return
	}
	setPins(ctx, w)
	status := http.StatusOK
	if verdict.requiredFailed {
		status = http.StatusBadGateway
	}
	writeResponse(w, status, buf, resp)
}

// readParams reads the request's parameters, from the query string of a GET or
// the body of a POST, and refuses a query longer than the limit before it is
// parsed (parsing and validation time grow faster than the query).
func (t httpTransport) readParams(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, params *graphql.RawParams) (int, *gqlerror.Error) {
	var status int
	var err *gqlerror.Error
	if r.Method == http.MethodGet {
		status, err = paramsFromQuery(r, params)
	} else {
		status, err = t.paramsFromBody(w, r, buf, params)
	}
	if err != nil {
		return status, err
	}
	params.ReadTime.End = graphql.Now()
	if params.Query == "" && !hasPersistedQuery(params.Extensions) {
		return http.StatusBadRequest, codedError(codeBadRequest, "the request has no query: send it in the \"query\" parameter")
	}
	if t.maxQuery > 0 && len(params.Query) > t.maxQuery {
		return http.StatusBadRequest, codedError(policies.CodeQueryTooLarge,
			fmt.Sprintf("the query is %d bytes; at most %d are allowed", len(params.Query), t.maxQuery))
	}
	return 0, nil
}

// hasPersistedQuery reports whether a request's extensions name a persisted query,
// in any case of the key (as the trusted documents read it), so that the query
// may come from its hash.
func hasPersistedQuery(ext map[string]any) bool {
	for k := range ext {
		if strings.EqualFold(k, "persistedQuery") {
			return true
		}
	}
	return false
}

// refuse answers an operation that did not parse, validate or pass a policy, with
// the status its errors call for.
func (t httpTransport) refuse(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, opCtx *graphql.OperationContext, errs gqlerror.List, media string, buf *bytes.Buffer) {
	for _, e := range errs {
		if strings.HasPrefix(e.Message, "exceeded token limit") { // the parser's limit
			e.Extensions = map[string]any{"code": policies.CodeTooManyTokens}
		}
	}
	status := http.StatusOK
	switch {
	case hasCode(errs, policies.CodeUnauthenticated): // an operation rule
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
	case hasCode(errs, policies.CodeForbidden):
		status = http.StatusForbidden
	case refusedByLimits(errs):
		status = http.StatusBadRequest
	case errcode.GetErrorKind(errs) == errcode.KindProtocol && media == mediaGraphQLResponse:
		// Parse, validation and variable errors: 400 where the client reads the
		// GraphQL-over-HTTP media type, 200 (the specification's SHOULD for
		// application/json) otherwise.
		status = http.StatusBadRequest
	}
	resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
	writeResponse(w, status, buf, resp)
	if t.metrics != nil {
		t.metrics.GraphQLInvalid(t.version, time.Since(opCtx.Stats.Read.Start))
	}
}

// isJSON reports whether the media type of a Content-Type value is JSON's; the
// exact value most clients send is known without parsing it.
func isJSON(contentType string) bool {
	if contentType == mediaJSON {
		return true
	}
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && media == mediaJSON
}

// paramsFromBody reads and decodes a POST body.
func (t httpTransport) paramsFromBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, params *graphql.RawParams) (int, *gqlerror.Error) {
	if !isJSON(header(r.Header, hdrContentType)) {
		return http.StatusUnsupportedMediaType, codedError(codeUnsupportedMedia, "POST bodies must be application/json")
	}
	tooLarge := func() (int, *gqlerror.Error) {
		return http.StatusRequestEntityTooLarge, codedError(codeRequestTooLarge, "request body exceeds "+strconv.FormatInt(t.maxBody, 10)+" bytes")
	}
	if r.ContentLength > t.maxBody {
		return tooLarge()
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, t.maxBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return http.StatusBadRequest, codedError(codeBadRequest, "could not read the request body")
	}
	body := bytes.TrimLeft(buf.Bytes(), " \t\r\n")
	if len(body) > 0 && body[0] == '[' {
		return http.StatusBadRequest, codedError(codeBadRequest, "batched operations are not supported; send one operation per request")
	}
	var rb requestBody
	if err := easyjson.Unmarshal(body, &rb); err != nil {
		return http.StatusBadRequest, codedError(codeBadRequest, "the body is not a JSON GraphQL request: "+err.Error())
	}
	params.Query, params.OperationName = rb.Query, rb.OperationName
	if err := decodeObject(rb.Variables, &params.Variables); err != nil {
		return http.StatusBadRequest, codedError(codeBadRequest, "variables must be a JSON object")
	}
	if err := decodeObject(rb.Extensions, &params.Extensions); err != nil {
		return http.StatusBadRequest, codedError(codeBadRequest, "extensions must be a JSON object")
	}
	return 0, nil
}

// paramsFromQuery reads the parameters of a GET request.
func paramsFromQuery(r *http.Request, params *graphql.RawParams) (int, *gqlerror.Error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return http.StatusBadRequest, codedError(codeBadRequest, "the query string does not parse")
	}
	params.Query = q.Get("query")
	params.OperationName = q.Get("operationName")
	if err := decodeObject([]byte(q.Get("variables")), &params.Variables); err != nil {
		return http.StatusBadRequest, codedError(codeBadRequest, "variables must be a JSON object")
	}
	if err := decodeObject([]byte(q.Get("extensions")), &params.Extensions); err != nil {
		return http.StatusBadRequest, codedError(codeBadRequest, "extensions must be a JSON object")
	}
	return 0, nil
}

// decodeObject decodes a JSON object, or nothing when raw is empty or null, keeping
// numbers exact.
func decodeObject(raw []byte, into *map[string]any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' {
		return errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.InputOffset() != int64(len(raw)) {
		return errors.New("trailing data after the object")
	}
	return nil
}

// responseMediaType chooses the answer's media type from the Accept header:
// application/graphql-response+json when the client lists it before
// application/json, application/json otherwise (also for */* and no header, which
// legacy clients send).
func responseMediaType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || isZeroQ(params["q"]) {
			continue
		}
		switch media {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		}
	}
	return mediaJSON
}

// refusedByLimits reports whether the query limits refused the request.
func refusedByLimits(errs gqlerror.List) bool {
	for _, e := range errs {
		switch e.Extensions["code"] {
		case policies.CodeQueryTooLarge, policies.CodeQueryTooDeep, policies.CodeTooManyAliases, policies.CodeTooManyTokens, "COMPLEXITY_LIMIT_EXCEEDED", policies.CodeNotTrusted:
			return true
		}
	}
	return false
}

// hasCode reports whether one of errs has the code.
func hasCode(errs gqlerror.List, code string) bool {
	for _, e := range errs {
		if e.Extensions["code"] == code {
			return true
		}
	}
	return false
}

// isZeroQ reports whether an Accept q-value refuses the media type ("q=0").
func isZeroQ(q string) bool {
	if q == "" {
		return false
	}
	v, err := strconv.ParseFloat(q, 64)
	return err == nil && v == 0
}

// setPins sets the cookies that pin the client to the endpoints sticky pools chose.
func setPins(ctx context.Context, w http.ResponseWriter) {
	aff := lb.AffinityFrom(ctx)
	if aff == nil {
		return
	}
	for name, id := range aff.Pins() {
		http.SetCookie(w, &http.Cookie{Name: name, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// writeResponse writes a GraphQL response with one write: errors first, then the
// data as the executor marshalled it, then extensions.
func writeResponse(w http.ResponseWriter, status int, buf *bytes.Buffer, resp *graphql.Response) {
	buf.Reset()
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			b = []byte(`[{"message":"internal error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]`)
		}
		buf.WriteString(`"errors":`)
		buf.Write(b)
		buf.WriteByte(',')
	}
	// A request that failed before execution has no data entry at all (GraphQL over
	// HTTP); an executed one always has one, null when a non-null error bubbled up.
	switch {
	case len(resp.Data) > 0:
		buf.WriteString(`"data":`)
		buf.Write(resp.Data)
	case len(resp.Errors) == 0:
		buf.WriteString(`"data":null`)
	default:
		buf.Truncate(buf.Len() - 1) // the comma after the errors
	}
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			buf.WriteString(`,"extensions":`)
			buf.Write(b)
		}
	}
	buf.WriteByte('}')
	setHeader(w.Header(), hdrContentLength, strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeErrors answers with a GraphQL response holding only errors.
func writeErrors(w http.ResponseWriter, status int, errs gqlerror.List) {
	b, _ := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{errs})
	setHeader(w.Header(), hdrContentLength, strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func codedError(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// writeJSONError answers a non-GraphQL route with {"error": {"code", "message"}}.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	httperr.REST(w, status, code, msg)
}

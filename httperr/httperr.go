// Package httperr writes the answers the gateway refuses a request with itself, in
// the two shapes its clients read: a GraphQL response holding one error,
// {"errors":[{"message":M,"extensions":{"code":C}}]}, for the GraphQL routes, and
// {"error":{"code":C,"message":M}} for REST clients (composed REST endpoints, L7
// routes, the gateway's own routes). Every package that refuses requests writes
// through it, so that the shapes, the escaping and the headers are the same
// everywhere. The codes are listed in docs/operations.md.
package httperr

import (
	"encoding/json"
	"net/http"
	"strconv"
)

type restError struct {
	Error restBody `json:"error"`
}

type restBody struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Upstream string `json:"upstream,omitempty"`
}

type graphqlError struct {
	Errors [1]graphqlBody `json:"errors"`
}

type graphqlBody struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// REST answers status with {"error":{"code":code,"message":msg}}.
func REST(w http.ResponseWriter, status int, code, msg string) {
	RESTUpstream(w, status, code, msg, "")
}

// RESTUpstream is REST with the name of the upstream that failed, when not "".
func RESTUpstream(w http.ResponseWriter, status int, code, msg, upstream string) {
	write(w, status, restError{restBody{Code: code, Message: msg, Upstream: upstream}})
}

// GraphQL answers status with a GraphQL response holding one error of code.
func GraphQL(w http.ResponseWriter, status int, code, msg string) {
	var e graphqlError
	e.Errors[0].Message = msg
	e.Errors[0].Extensions.Code = code
	write(w, status, e)
}

func write(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // strings only: cannot happen
		b = []byte(`{"error":{"code":"INTERNAL_SERVER_ERROR","message":"the error could not be written"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

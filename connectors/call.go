package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors/mapping"
	"github.com/switchyard/switchyard/upstreams"
)

// Request is the HTTP request a connector makes for given variables.
type Request struct {
	Method string
	Target string // the escaped path and query, the source's base path first
	Header [][2]string
	Body   []byte // nil: none
}

// Request builds the connector's request. input is what $ is in queryParams and
// body ($this's object, for a field of a type); client is the inbound request's
// header, which headers with from copy. A template value that is missing is a
// *mapping.MissingError.
func (c *Connector) Request(input any, vars mapping.Vars, client http.Header) (*Request, error) {
	path, err := c.URL.ExpandURL(input, vars)
	if err != nil {
		return nil, err
	}
	r := &Request{Method: c.Method, Target: c.Source.BasePath + path}
	if c.Query != nil {
		if q := mapping.QueryParams(c.Query, input, vars).Encode(); q != "" {
			sep := "?"
			if strings.Contains(r.Target, "?") {
				sep = "&"
			}
			r.Target += sep + q
		}
	}
	for _, hs := range [][]Header{c.Source.Headers, c.Headers} {
		for _, h := range hs {
			switch {
			case h.From != "":
				if v := client.Get(h.From); v != "" && !strings.ContainsAny(v, "\r\n") {
					r.Header = append(r.Header, [2]string{h.Name, v})
				}
			default:
				v, err := h.Value.ExpandText(input, vars)
				if err != nil {
					return nil, err
				}
				r.Header = append(r.Header, [2]string{h.Name, v})
			}
		}
	}
	if c.Body != nil {
		in := input
		if in == nil {
			in = map[string]any{}
		}
		b, err := json.Marshal(c.Body.Eval(in, vars))
		if err != nil {
			return nil, err
		}
		r.Body = b
		r.Header = append(r.Header, [2]string{"Content-Type", "application/json"})
	}
	return r, nil
}

// Do makes the connector's call through svc and returns what its selection makes of
// the answer, decoded JSON. A GET answered 404 is a lookup that found nothing: nil
// and no error. Other failures are *upstreams.Error. A connector without a method
// makes no call: its selection reads the variables alone.
func (c *Connector) Do(ctx context.Context, svc *upstreams.Service, input any, vars mapping.Vars, client http.Header) (any, error) {
	if c.Method == "" {
		return c.Selection.Eval(map[string]any{}, vars), nil
	}
	req, err := c.Request(input, vars, client)
	if err != nil {
		return nil, err
	}
	answer, err := c.fetch(ctx, svc, req)
	if err != nil || answer == nil {
		return nil, err
	}
	return c.Selection.Eval(answer, vars), nil
}

// fetch makes a request of the connector and returns its answer, decoded JSON
// (nil for a GET answered 404, or an empty answer).
func (c *Connector) fetch(ctx context.Context, svc *upstreams.Service, req *Request) (any, error) {
	var answer any
	err := svc.Call(ctx, c.op, req.Method, req.Target, req.Header, req.Body, decodeInto(&answer))
	return c.answered(answer, err)
}

// start sends a request of the connector without waiting for its answer, which
// finish reads.
func (c *Connector) start(ctx context.Context, svc *upstreams.Service, req *Request) *upstreams.Started {
	return svc.Start(ctx, c.op, req.Method, req.Target, req.Header, req.Body)
}

// finish reads the answer of a call start sent, as fetch returns it.
func (c *Connector) finish(st *upstreams.Started) (any, error) {
	var answer any
	err := st.Finish(decodeInto(&answer))
	return c.answered(answer, err)
}

// decodeInto decodes an answer's body into *v: an empty body (a 204, or an empty
// 200) is null.
func decodeInto(v *any) func(body []byte) error {
	return func(body []byte) error {
		if len(bytes.TrimSpace(body)) == 0 {
			return nil
		}
		var err error
		*v, err = decodeAnswer(body)
		return err
	}
}

// answered is a call's outcome: a GET answered 404 found nothing, which is nil
// and no error.
func (c *Connector) answered(answer any, err error) (any, error) {
	if err != nil {
		if c.Method == "GET" && upstreams.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return answer, nil
}

type trailingError struct{}

func (trailingError) Error() string { return "the answer holds more than one JSON value" }

var errTrailing error = trailingError{}

package l7

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
)

// Interim (1xx) answers of an upstream reach the client only when they are meant
// for it: 103 Early Hints. A 100 Continue is the gateway's own server's to send
// (it does when the proxy starts reading a body the client announced with Expect),
// and the rest (102 Processing, unknown ones) were asked for by no one.
// httputil.ReverseProxy forwards every one it is told of, and net/http's client
// stops bounding the heads of interim answers once someone is told of them; so the
// proxy's request carries a trace that drops the unwanted ones and refuses more
// than maxInterim, whatever their kind.

// maxInterim is how many interim answers may precede the final one.
const maxInterim = 5

var (
	errTooManyInterim = errors.New("the upstream sent too many interim (1xx) answers")
	errBadStatus      = errors.New("the upstream answered with a status code outside 100 to 599")
	errBadFieldName   = errors.New("the upstream's answer has a header field name that is not a token")
)

// checkAnswer refuses what net/http's client lets through but a proxy must not pass
// on: a status code outside 100 to 599 (it takes any three digits), and a header
// field name with whitespace before its colon, which it keeps as a name of its own
// ("Content-Length : 2") while the answer's framing ignores it (RFC 9112, section
// 5.1: a proxy must refuse or repair it).
func checkAnswer(resp *http.Response) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return errBadStatus
	}
	for name := range resp.Header {
		if strings.ContainsAny(name, " \t") {
			return errBadFieldName
		}
	}
	for name := range resp.Trailer {
		if strings.ContainsAny(name, " \t") {
			return errBadFieldName
		}
	}
	return nil
}

// tryState is what the trace of an attempt learns of its connection.
type tryState struct {
	reused    bool // the connection had carried a request before
	handshook bool // its TLS handshake succeeded (false for plain connections)
}

// traced returns ctx with a client trace that records st (reset it before each
// attempt) and, when ctx's trace forwards interim answers, filters them as above.
func traced(ctx context.Context, st *tryState) context.Context {
	orig := httptrace.ContextClientTrace(ctx)
	var t httptrace.ClientTrace
	if orig != nil {
		t = *orig
	}
	t.GotConn = func(info httptrace.GotConnInfo) {
		st.reused = info.Reused
		if orig != nil && orig.GotConn != nil {
			orig.GotConn(info)
		}
	}
	t.TLSHandshakeDone = func(cs tls.ConnectionState, err error) {
		st.handshook = err == nil
		if orig != nil && orig.TLSHandshakeDone != nil {
			orig.TLSHandshakeDone(cs, err)
		}
	}
	if orig == nil || orig.Got1xxResponse == nil {
		return httptrace.WithClientTrace(ctx, &t)
	}
	n := 0
	t.Got1xxResponse = func(code int, h textproto.MIMEHeader) error {
		if n++; n > maxInterim {
			return errTooManyInterim
		}
		if code == http.StatusEarlyHints {
			return orig.Got1xxResponse(code, h)
		}
		return nil
	}
	return &filteredTrace{Context: ctx, trace: &t}
}

// filteredTrace is a context whose client trace is replaced.
type filteredTrace struct {
	context.Context
	trace *httptrace.ClientTrace
}

// Value answers the look-up of the client trace (whose key is net/http's own)
// with the replaced trace, and every other look-up as the parent does.
func (c *filteredTrace) Value(key any) any {
	v := c.Context.Value(key)
	if _, ok := v.(*httptrace.ClientTrace); ok {
		return c.trace
	}
	return v
}

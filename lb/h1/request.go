package h1

import (
	"strconv"
	"strings"
)

// Request is one HTTP/1.1 request to an upstream. The pool chooses the endpoint, so a
// request names only what goes on the wire after the host.
type Request struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// Target is the request target: the escaped path and query, as in
	// "/users?ids=u1,u2". It must start with '/' and hold no space, CR or LF.
	Target string
	// Header holds extra request header fields as name/value pairs. Values must hold
	// no CR or LF.
	Header [][2]string
	// Body is sent with a Content-Length when non-empty. A request with a body is
	// replayable, so it may be retried when its method is idempotent.
	Body []byte
}

// Response is an upstream's answer. Body is appended to, so a caller may pass a
// response whose Body has capacity left from an earlier call and avoid allocating.
type Response struct {
	Status int
	Body   []byte
}

// Reset empties the response for reuse, keeping the capacity of Body.
func (r *Response) Reset() {
	r.Status = 0
	r.Body = r.Body[:0]
}

func (r *Request) method() string {
	if r.Method == "" {
		return "GET"
	}
	return r.Method
}

// Idempotent reports whether the request may be sent twice without changing its
// meaning (RFC 9110, section 9.2.2).
func (r *Request) Idempotent() bool {
	switch r.method() {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// writeRequest writes req on c and flushes it.
func writeRequest(c *conn, host string, req *Request) error {
	bw := c.bw
	method := req.method()
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(req.Target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\nUser-Agent: switchyard\r\nAccept: application/json\r\n")
	for _, h := range req.Header {
		bw.WriteString(h[0])
		bw.WriteString(": ")
		bw.WriteString(h[1])
		bw.WriteString("\r\n")
	}
	if len(req.Body) > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.num[:0], int64(len(req.Body)), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(req.Body)
	return bw.Flush()
}

// Check reports what makes the request impossible to send safely, as
// validRequest does; nil when it can be sent.
func (r *Request) Check() error { return validRequest(r) }

// validRequest refuses what cannot be sent safely: a target that is not an origin
// form without spaces or control characters, and header fields whose names are not
// tokens or whose values hold control characters other than tab.
func validRequest(req *Request) error {
	if len(req.Target) == 0 || req.Target[0] != '/' {
		return errBadRequestTarget
	}
	for i := 0; i < len(req.Target); i++ {
		if c := req.Target[i]; c <= ' ' || c == 0x7f {
			return errBadRequestTarget
		}
	}
	for _, h := range req.Header {
		if h[0] == "" {
			return errBadHeader
		}
		for i := 0; i < len(h[0]); i++ {
			if !isTokenChar(h[0][i]) {
				return errBadHeader
			}
		}
		for i := 0; i < len(h[1]); i++ {
			if byteClass[h[1][i]]&classFieldValue == 0 {
				return errBadHeader
			}
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110, 5.6.2).
func isTokenChar(c byte) bool { return byteClass[c]&classToken != 0 }

// The classes of bytes the heads of requests and answers are checked against, one
// table lookup per byte: every exchange goes through them.
const (
	classToken      = 1 << iota // may appear in a token (RFC 9110, 5.6.2)
	classFieldValue             // may appear in a field value: not a control but HTAB
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0:
			t[c] |= classToken
		}
		if (c >= ' ' || c == '\t') && c != 0x7f {
			t[c] |= classFieldValue
		}
	}
	return t
}()

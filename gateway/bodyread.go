package gateway

import (
	"io"
	"net/http"
	"time"
)

// PaceBodies bounds each wait for more of a request's body by d, rather than the
// whole body by one fixed time (net/http's ReadTimeout): a client that stops
// sending for d loses its request (its read fails and the connection closes), but
// one that keeps sending may take as long as it needs, as a large upload through
// an L7 route does. The connection's read deadline is moved ahead as the body
// comes, at most every d/4, so a small body costs one deadline.
func PaceBodies(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && d > 0 {
			r.Body = &pacedBody{ReadCloser: r.Body, rc: *http.NewResponseController(w), d: d} // one allocation
		}
		next.ServeHTTP(w, r)
	})
}

// pacedBody moves its connection's read deadline ahead as it is read.
type pacedBody struct {
	io.ReadCloser
	rc   http.ResponseController
	d    time.Duration
	next time.Time // when the deadline is next moved
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if now := time.Now(); now.After(b.next) {
		if err := b.rc.SetReadDeadline(now.Add(b.d)); err == nil {
			b.next = now.Add(b.d / 4)
		}
	}
	return b.ReadCloser.Read(p)
}

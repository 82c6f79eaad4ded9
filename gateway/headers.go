package gateway

import "net/http"

// The header fields the GraphQL path reads or writes on every request, in canonical
// form, so that they are looked up without canonicalizing the key again (net/http
// canonicalizes the fields of a request as it reads them).
const (
	hdrAccept         = "Accept"
	hdrAPIVersion     = "Api-Version"
	hdrContentLength  = "Content-Length"
	hdrContentType    = "Content-Type"
	hdrRequestID      = "X-Request-Id"
	hdrRequestTimeout = "Request-Timeout"
	hdrUpgrade        = "Upgrade"
)

// header returns the first value of the field key, which must be canonical.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// setHeader sets the field key, which must be canonical, to value.
func setHeader(h http.Header, key, value string) {
	h[key] = []string{value}
}

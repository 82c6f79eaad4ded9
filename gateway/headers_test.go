package gateway

import (
	"net/textproto"
	"testing"
)

func TestHeaderKeysCanonical(t *testing.T) {
	for _, k := range []string{hdrAccept, hdrAPIVersion, hdrContentLength, hdrContentType,
		hdrRequestID, hdrRequestTimeout, hdrUpgrade} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("%q is not canonical: %q", k, c)
		}
	}
}

package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"sync/atomic"
	"time"
)

// TLSClient makes the TLS connections to one endpoint. It is safe for concurrent
// use.
type TLSClient struct {
	config  *tls.Config
	addr    string
	log     *slog.Logger
	failing atomic.Bool // a handshake failed, was logged, and no answer came since
}

// NewTLSClient returns the TLS client of the endpoint at addr, with config (its
// server name set); the first handshake that fails after an answer is logged to
// log.
func NewTLSClient(config *tls.Config, addr string, log *slog.Logger) *TLSClient {
	return &TLSClient{config: config, addr: addr, log: log}
}

// handshake runs the TLS handshake on nc, a new connection, within timeout and
// before deadline (zero for none) and ctx's end. On failure it closes nc and
// returns a *DialError: the request never reached the endpoint. The first failure
// after an answer is logged with its reason.
func (c *TLSClient) handshake(ctx context.Context, nc net.Conn, deadline time.Time, timeout time.Duration) (*tlsConn, error) {
	end := deadline
	if timeout > 0 {
		if d := time.Now().Add(timeout); end.IsZero() || d.Before(end) {
			end = d
		}
	}
	rec := &recordConn{Conn: nc}
	tc := tls.Client(rec, c.config)
	err := tc.SetDeadline(end)
	if err == nil {
		err = tc.HandshakeContext(ctx)
	}
	if err == nil {
		err = tc.SetDeadline(time.Time{}) // the request sets its own
	}
	if err != nil {
		nc.Close()
		err = fmt.Errorf("TLS handshake: %w", err)
		if ctx.Err() == nil && !c.failing.Swap(true) {
			c.log.Warn("TLS handshake with endpoint failed", "endpoint", c.addr, "error", err)
		}
		return nil, &DialError{Err: err}
	}
	return &tlsConn{Conn: tc, client: c, rec: rec}, nil
}

// tlsConn is a client's TLS connection that reports an alert read before any byte
// of an answer as a *DialError. In TLS 1.3 the client's handshake is over before
// the server has checked the client's certificate; a server that refuses it (none
// sent, or one it does not trust) says so with an alert that the client reads in
// place of its first answer. The request was not served.
type tlsConn struct {
	*tls.Conn
	client   *TLSClient
	rec      *recordConn // the connection under it
	answered bool
}

// recordConn is the TCP connection under a TLS client. It follows the TLS records
// in the bytes it hands up, so that the idle check can tell when the TLS layer,
// which reads as much as the socket has, holds part of a record that followed an
// answer: bytes nobody asked for, which neither a read of the TLS layer (the
// record is not whole) nor a peek at the socket (they left it) would see.
type recordConn struct {
	net.Conn
	hdr  [5]byte
	nhdr int // bytes of the current record's header handed up
	left int // bytes of the current record's body still to come
}

func (c *recordConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.follow(b[:n])
	return n, err
}

// follow advances over p, the next bytes of the stream of records.
func (c *recordConn) follow(p []byte) {
	for len(p) > 0 {
		if c.left > 0 {
			k := min(c.left, len(p))
			c.left -= k
			p = p[k:]
			continue
		}
		k := copy(c.hdr[c.nhdr:], p)
		c.nhdr += k
		p = p[k:]
		if c.nhdr == len(c.hdr) {
			c.left = int(c.hdr[3])<<8 | int(c.hdr[4])
			c.nhdr = 0
		}
	}
}

// midRecord reports whether the bytes handed up end inside a record.
func (c *recordConn) midRecord() bool { return c.nhdr > 0 || c.left > 0 }

func (c *tlsConn) Read(b []byte) (int, error) {
	if c.answered {
		return c.Conn.Read(b)
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.answered = true
		if c.client.failing.Load() {
			c.client.failing.Store(false) // the endpoint accepted the handshake
		}
	} else if IsCertificateRefusal(err) {
		err = fmt.Errorf("TLS handshake refused by the endpoint: %w", err)
		if !c.client.failing.Swap(true) {
			c.client.log.Warn("TLS handshake with endpoint failed", "endpoint", c.client.addr, "error", err)
		}
		err = &DialError{Err: err}
	}
	return n, err
}

// IsCertificateRefusal reports whether err is a TLS alert by which the peer refused
// the handshake (its failure, or a certificate: bad, unsupported, revoked, expired,
// unknown, of an unknown authority, denied, or required and missing). In TLS 1.3 a
// client reads such an alert in place of its first answer when the server refuses
// its certificate; the request was not served. Other alerts, which an upstream may
// send after serving a request, are not refusals.
func IsCertificateRefusal(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	// crypto/tls's alert type is unexported; its value is the alert's code.
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return false
	}
	switch v.Uint() {
	case 40, 42, 43, 44, 45, 46, 48, 49, 116:
		return true
	}
	return false
}

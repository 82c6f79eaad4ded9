package lb

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// TLS configures the TLS connections to a pool's https endpoints. The zero value
// verifies each endpoint's certificate against the system's roots under the
// endpoint's host name, sends no client certificate and accepts TLS 1.2 and later.
// Its files are read when the pool is made; a reload after their contents changed
// makes the pool again, with the new certificates (see TLSFilesChanged).
type TLS struct {
	// CAFile is a PEM file of the authorities trusted to sign the endpoints'
	// certificates, in place of the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM certificate and its private key, sent to the
	// endpoints that ask for a client certificate (mTLS). Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is sent in the handshake (SNI) and verified in the endpoints'
	// certificates in place of each endpoint's host name.
	ServerName string `yaml:"server_name"`
	// MinVersion is the oldest version accepted, "1.2" or "1.3". Default "1.2".
	MinVersion string `yaml:"min_version"`
}

// TLSVersions are the versions TLS.MinVersion may name.
var TLSVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

func (o *TLS) setDefaults() {
	if o != nil && o.MinVersion == "" {
		o.MinVersion = "1.2"
	}
}

// validate reads the files o names, as the pool will, and reports what it cannot
// use.
func (o *TLS) validate(at setting.Path, r setting.Reporter) {
	if o == nil {
		return
	}
	if o.CAFile != "" {
		if _, err := LoadCA(o.CAFile); err != nil {
			r.Add(at.Key("ca_file"), "%s: %v", o.CAFile, err)
		}
	}
	switch {
	case o.CertFile != "" && o.KeyFile == "":
		r.Add(at.Key("key_file"), "cert_file needs its key_file")
	case o.CertFile == "" && o.KeyFile != "":
		r.Add(at.Key("cert_file"), "key_file needs its cert_file")
	case o.CertFile != "":
		if _, err := LoadKeyPair(o.CertFile, o.KeyFile); err != nil {
			r.Add(at.Key("cert_file"), "%s with %s: %v", o.CertFile, o.KeyFile, err)
		}
	}
	if _, ok := TLSVersions[o.MinVersion]; !ok {
		r.Add(at.Key("min_version"), "%q is not a TLS version (use 1.2 or 1.3)", o.MinVersion)
	}
	if n := o.ServerName; n != "" && !hostName(n) {
		r.Add(at.Key("server_name"), "%q is not a host name", n)
	}
}

// LoadCA reads a PEM file of certificate authorities, as TLS.CAFile names it.
func LoadCA(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return parseCA(data)
}

// LoadKeyPair reads a PEM certificate and its key, as TLS.CertFile and TLS.KeyFile
// name them.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	return tls.LoadX509KeyPair(certFile, keyFile)
}

func parseCA(data []byte) (*x509.CertPool, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data) {
		return nil, errors.New("no PEM certificate in it")
	}
	return roots, nil
}

// files reads the files o names and returns their contents (nil for a file not
// named) and a digest of them all, which tells whether any changed since.
func (o *TLS) files() (contents [3][]byte, sum [sha256.Size]byte, err error) {
	h := sha256.New()
	for i, name := range []string{o.CAFile, o.CertFile, o.KeyFile} {
		if name != "" {
			if contents[i], err = os.ReadFile(name); err != nil {
				return contents, sum, err
			}
		}
		h.Write(strconv.AppendInt(nil, int64(len(contents[i])), 10))
		h.Write([]byte{':'})
		h.Write(contents[i])
	}
	h.Sum(sum[:0])
	return contents, sum, nil
}

// load reads o's files and returns the configuration the pool's endpoints share,
// with a session cache for the whole pool, and the digest of the files.
func (o *TLS) load() (*tls.Config, [sha256.Size]byte, error) {
	contents, sum, err := o.files()
	if err != nil {
		return nil, sum, fmt.Errorf("reading TLS files: %w", err)
	}
	cfg := &tls.Config{
		ServerName: o.ServerName,
		MinVersion: TLSVersions[o.MinVersion],
		// HTTP/1.1 is all the transport speaks; saying so lets a server that also
		// speaks HTTP/2 choose at once.
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
	switch {
	case o.MinVersion == "":
		cfg.MinVersion = tls.VersionTLS12
	case cfg.MinVersion == 0:
		return nil, sum, fmt.Errorf("TLS version %q is not 1.2 or 1.3", o.MinVersion)
	}
	if o.CAFile != "" {
		if cfg.RootCAs, err = parseCA(contents[0]); err != nil {
			return nil, sum, fmt.Errorf("reading %s: %w", o.CAFile, err)
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, sum, errors.New("a client certificate needs both its certificate and its key file")
	}
	if o.CertFile != "" {
		pair, err := tls.X509KeyPair(contents[1], contents[2])
		if err != nil {
			return nil, sum, fmt.Errorf("reading client certificate %s: %w", o.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, sum, nil
}

// TLSConfig returns a copy of the TLS configuration of the pool's https endpoints,
// for another client of the same endpoints (a reverse proxy's transport): the same
// roots, client certificate, server name, minimum version and session cache. It
// returns nil when the pool has no https endpoint.
func (p *Pool) TLSConfig() *tls.Config {
	if p.tls == nil {
		return nil
	}
	return p.tls.Clone()
}

// TLSFilesChanged reports whether the contents of the TLS files the pool was built
// from differ from what it read then, or can no longer be read. A pool is made
// again, rather than kept, when they changed: its connections must use the new
// certificates.
func (p *Pool) TLSFilesChanged() bool {
	if p.opts.TLS == nil {
		return false
	}
	_, sum, err := p.opts.TLS.files()
	return err != nil || sum != p.tlsSum
}

// endpointTLS returns the TLS client of the endpoint at addr whose URL names host,
// or nil for a plain http endpoint.
func (p *Pool) endpointTLS(secure bool, addr, host string) *tlsClient {
	if !secure {
		return nil
	}
	cfg := p.tls.Clone()
	if cfg.ServerName == "" {
		// From the address to dial, which always has a port: "[::1]" without one
		// would keep its brackets.
		if h, _, err := net.SplitHostPort(addr); err == nil {
			host = h
		}
		cfg.ServerName = host
	}
	// One cache for the pool, with a key per endpoint: endpoints that share a
	// server name do not share sessions, which another instance would not resume.
	cfg.ClientSessionCache = endpointSessions{cache: p.tls.ClientSessionCache, prefix: addr + " "}
	return &tlsClient{config: cfg, addr: addr, log: p.log}
}

// endpointSessions is a pool's session cache as one endpoint uses it.
type endpointSessions struct {
	cache  tls.ClientSessionCache
	prefix string
}

func (s endpointSessions) Get(key string) (*tls.ClientSessionState, bool) {
	return s.cache.Get(s.prefix + key)
}

func (s endpointSessions) Put(key string, cs *tls.ClientSessionState) {
	s.cache.Put(s.prefix+key, cs)
}

// tlsClient makes the TLS connections to one endpoint. It is safe for concurrent
// use.
type tlsClient struct {
	config  *tls.Config
	addr    string
	log     *slog.Logger
	failing atomic.Bool // a handshake failed, was logged, and no answer came since
}

// handshake runs the TLS handshake on nc, a new connection, within timeout and
// before deadline (zero for none) and ctx's end. On failure it closes nc and
// returns a *DialError: the request never reached the endpoint. The first failure
// after an answer is logged with its reason.
func (c *tlsClient) handshake(ctx context.Context, nc net.Conn, deadline time.Time, timeout time.Duration) (*tlsConn, error) {
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
	client   *tlsClient
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

// loadTLS reads the pool's TLS files when it has https endpoints.
func (p *Pool) loadTLS() error {
	o := p.opts.TLS
	if o == nil {
		if !slices.ContainsFunc(p.opts.Endpoints, func(e string) bool {
			_, _, secure, err := parseEndpoint(e)
			return err == nil && secure
		}) {
			return nil
		}
		o = &TLS{}
	}
	cfg, sum, err := o.load()
	if err != nil {
		return err
	}
	p.tls, p.tlsSum = cfg, sum
	return nil
}

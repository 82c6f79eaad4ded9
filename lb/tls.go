package lb

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"

	"github.com/switchyard/switchyard/lb/h1"
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
func (p *Pool) endpointTLS(secure bool, addr, host string) *h1.TLSClient {
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
	return h1.NewTLSClient(cfg, addr, p.log)
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

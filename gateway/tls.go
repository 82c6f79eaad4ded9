package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/switchyard/switchyard/config"
)

// TLS terminates TLS for the public listener: certificates read from files, chosen
// by the client's server name (SNI), TLS 1.2 at least, HTTP/2 offered, and client
// certificates required when a client CA is configured. Reload reads the files again;
// connections made afterwards get the new certificates. It is safe for concurrent
// use.
type TLS struct {
	state atomic.Pointer[tlsState]
}

type tlsState struct {
	certs    []tls.Certificate
	clientCA *x509.CertPool // nil: no client certificates asked for
}

// NewTLS reads the certificates of cfg.
func NewTLS(cfg *config.TLS) (*TLS, error) {
	t := &TLS{}
	return t, t.Reload(cfg)
}

// Reload reads the files of cfg again; on error the certificates in use stay.
func (t *TLS) Reload(cfg *config.TLS) error {
	st, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	t.state.Store(st)
	return nil
}

// Check reads the files of cfg without using them.
func (t *TLS) Check(cfg *config.TLS) error {
	_, err := loadTLS(cfg)
	return err
}

func loadTLS(cfg *config.TLS) (*tlsState, error) {
	st := &tlsState{}
	var errs []error
	for i, c := range cfg.Certificates {
		pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("tls.certificates[%d]: %w", i, err))
			continue
		}
		st.certs = append(st.certs, pair)
	}
	if cfg.ClientCA != "" {
		pem, err := os.ReadFile(cfg.ClientCA)
		if err != nil {
			errs = append(errs, fmt.Errorf("tls.client_ca: %w", err))
		} else {
			st.clientCA = x509.NewCertPool()
			if !st.clientCA.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("tls.client_ca: %s holds no PEM certificate", cfg.ClientCA))
			}
		}
	}
	return st, errors.Join(errs...)
}

// Names returns the host names and addresses the certificates in use are for, the
// first certificate's first.
func (t *TLS) Names() []string {
	var names []string
	for _, c := range t.state.Load().certs {
		leaf := c.Leaf
		if leaf == nil && len(c.Certificate) > 0 {
			leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		if leaf == nil {
			continue
		}
		names = append(names, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
	}
	return names
}

// Config returns the server configuration: it reads the current certificates for
// every handshake.
func (t *TLS) Config() *tls.Config {
	base := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
	}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		st := t.state.Load()
		c := base.Clone()
		c.GetConfigForClient = nil
		c.Certificates = st.certs // Go picks the one whose names match the SNI
		if st.clientCA != nil {
			c.ClientCAs = st.clientCA
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
		return c, nil
	}
	return base
}

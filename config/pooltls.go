package config

import (
	"crypto/tls"
	"net"
	"strings"

	"github.com/switchyard/switchyard/lb"
)

// PoolTLS configures the TLS connections to a pool's https endpoints. Its files are
// read when the configuration is loaded, and again on every reload: a reload after
// the files' contents changed makes the pool again, with the new certificates.
type PoolTLS struct {
	// CAFile is a PEM file of the authorities trusted to sign the endpoints'
	// certificates. Default: the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the gateway's client certificate and its key, PEM,
	// sent to endpoints that ask for one (mTLS). Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is sent as SNI and verified in the endpoints' certificates.
	// Default: each endpoint's host name.
	ServerName string `yaml:"server_name"`
	// MinVersion is the oldest TLS version accepted, "1.2" or "1.3". Default "1.2".
	MinVersion string `yaml:"min_version"`
}

// TLSVersions are the versions min_version may name.
var TLSVersions = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

func (t *PoolTLS) setDefaults() {
	if t != nil && t.MinVersion == "" {
		t.MinVersion = "1.2"
	}
}

// LB returns the pool options t stands for; nil for nil.
func (t *PoolTLS) LB() *lb.TLS {
	if t == nil {
		return nil
	}
	return &lb.TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName,
		MinVersion: TLSVersions[t.MinVersion]}
}

// check reads the files t names, as the pool will, and reports what it cannot use.
func (t *PoolTLS) check(at path, errs *errorList) {
	if t == nil {
		return
	}
	if t.CAFile != "" {
		if _, err := lb.LoadCA(t.CAFile); err != nil {
			errs.add(at.key("ca_file"), "%s: %v", t.CAFile, err)
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		errs.add(at.key("key_file"), "cert_file needs its key_file")
	case t.CertFile == "" && t.KeyFile != "":
		errs.add(at.key("cert_file"), "key_file needs its cert_file")
	case t.CertFile != "":
		if _, err := lb.LoadKeyPair(t.CertFile, t.KeyFile); err != nil {
			errs.add(at.key("cert_file"), "%s with %s: %v", t.CertFile, t.KeyFile, err)
		}
	}
	if _, ok := TLSVersions[t.MinVersion]; !ok {
		errs.add(at.key("min_version"), "%q is not a TLS version (use 1.2 or 1.3)", t.MinVersion)
	}
	if n := t.ServerName; n != "" && net.ParseIP(n) == nil && (strings.ContainsAny(n, ":/ ") || strings.Trim(n, ".") != n) {
		errs.add(at.key("server_name"), "%q is not a host name", n)
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/testpki"
	"github.com/switchyard/switchyard/lb"
)

func TestPoolTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t)
	caFile := ca.WriteFile(t, dir)
	certFile, keyFile := testpki.WriteKeyPair(t, dir, ca.Client(t, "gateway"))
	_, otherKey := testpki.WriteKeyPair(t, dir, ca.Client(t, "other"))
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not PEM\n"), 0o600)
	// The users pool is on line 4; its tls block, when there is one, from line 6.
	withTLS := func(endpoint, block string) string {
		return strings.Replace(valid, "    endpoints: [http://127.0.0.1:1]\n",
			"    endpoints: ["+endpoint+"]\n    tls:\n"+block, 1)
	}
	t.Run("valid", func(t *testing.T) {
		c, err := Parse("gw.yaml", []byte(withTLS("https://users.internal", "      ca_file: "+caFile+"\n      cert_file: "+certFile+"\n      key_file: "+keyFile+"\n      server_name: users.test\n")))
		if err != nil {
			t.Fatal(err)
		}
		got := c.Pools["users"].TLS
		if got.MinVersion != "1.2" || lb.TLSVersions[got.MinVersion] != 0x0303 || got.CAFile != caFile {
			t.Fatalf("%+v", got)
		}
		if _, err := Parse("gw.yaml", []byte(strings.Replace(valid, "http://127.0.0.1:1", "https://127.0.0.1:1", 1))); err != nil {
			t.Fatalf("an https endpoint without a tls block: %v", err)
		}
	})
	for _, tc := range []struct {
		name     string
		endpoint string
		block    string
		want     []string
	}{
		{"an http endpoint", "http://127.0.0.1:1", "      min_version: \"1.3\"\n",
			[]string{`gw.yaml:5: pools.users.endpoints[0]: "http://127.0.0.1:1" is plain http, but the pool has a tls block`}},
		{"a missing CA file", "https://127.0.0.1:1", "      ca_file: /nonexistent/ca.pem\n",
			[]string{`gw.yaml:7: pools.users.tls.ca_file: /nonexistent/ca.pem: open /nonexistent/ca.pem: no such file or directory`}},
		{"a CA file without PEM", "https://127.0.0.1:1", "      ca_file: " + junk + "\n",
			[]string{`gw.yaml:7: pools.users.tls.ca_file: ` + junk + `: no PEM certificate in it`}},
		{"a certificate without its key", "https://127.0.0.1:1", "      cert_file: " + certFile + "\n",
			[]string{`gw.yaml:6: pools.users.tls.key_file: cert_file needs its key_file`}},
		{"a key without its certificate", "https://127.0.0.1:1", "      key_file: " + keyFile + "\n",
			[]string{`gw.yaml:6: pools.users.tls.cert_file: key_file needs its cert_file`}},
		{"a key of another certificate", "https://127.0.0.1:1", "      cert_file: " + certFile + "\n      key_file: " + otherKey + "\n",
			[]string{`gw.yaml:7: pools.users.tls.cert_file: ` + certFile + ` with ` + otherKey + `: tls: private key does not match public key`}},
		{"a certificate not PEM", "https://127.0.0.1:1", "      cert_file: " + junk + "\n      key_file: " + keyFile + "\n",
			[]string{`gw.yaml:7: pools.users.tls.cert_file:`, `failed to find any PEM data in certificate input`}},
		{"an unknown version", "https://127.0.0.1:1", "      min_version: \"1.1\"\n",
			[]string{`gw.yaml:7: pools.users.tls.min_version: "1.1" is not a TLS version (use 1.2 or 1.3)`}},
		{"a server name with a port", "https://127.0.0.1:1", "      server_name: users.test:443\n",
			[]string{`gw.yaml:7: pools.users.tls.server_name: "users.test:443" is not a host name`}},
		{"an unknown key", "https://127.0.0.1:1", "      insecure_skip_verify: true\n",
			[]string{`gw.yaml:7: pools.users.tls.insecure_skip_verify: unknown key (known keys: ca_file, cert_file, key_file, min_version, server_name)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("gw.yaml", []byte(withTLS(tc.endpoint, tc.block)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

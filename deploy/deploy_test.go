// Package deploy holds what runs the gateway elsewhere: the Helm chart (helm/) and,
// at the repository's root, the Dockerfile. Its tests check both without a
// container engine: the Dockerfile's build command is run as written, and the
// chart is linted and rendered with helm and its manifests read back.
package deploy

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/config"
)

// The Dockerfile's build command, run as written (with the output moved to a
// temporary directory), makes a static binary built with -trimpath and stamped
// with the version; the image runs it as a non-root user with the configuration
// at its documented path.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway")
	}
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(data)
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*-o /out/gateway \./cmd/gateway)$`).FindStringSubmatch(dockerfile)
	if build == nil {
		t.Fatal("the Dockerfile has no RUN CGO_ENABLED=0 go build ... -o /out/gateway ./cmd/gateway line")
	}
	out := filepath.Join(t.TempDir(), "gateway")
	cmd := strings.ReplaceAll(build[1], "/out/gateway", out)
	sh := exec.Command("sh", "-c", cmd)
	sh.Dir = ".."
	sh.Env = append(os.Environ(), "VERSION=v9.9.9-test")
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Error("the binary is dynamically linked: a FROM scratch image cannot run it")
		}
	}
	f.Close()
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("build settings %v: want -trimpath and CGO_ENABLED=0", settings)
	}
	version, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(version), "switchyard gateway v9.9.9-test") {
		t.Errorf("gateway version: %q, %v: the version is not stamped", version, err)
	}

	final := dockerfile[strings.LastIndex(dockerfile, "\nFROM "):]
	for _, want := range []string{
		"\nFROM scratch\n",
		"COPY --from=build /out/gateway /usr/local/bin/gateway\n",
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n",
		"\nUSER 65532:65532\n",
		`ENTRYPOINT ["/usr/local/bin/gateway"]`,
		`CMD ["-config", "/etc/switchyard/gateway.yaml", "-listen", ":8080"]`,
	} {
		if !strings.Contains(final, want) {
			t.Errorf("the image's stage lacks %q", want)
		}
	}
}

// helm finds the helm command: on PATH or where go install puts it. Without it
// the chart's tests are skipped, except in CI, where ./test.sh installs it.
func helm(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("helm is not installed (./test.sh installs it)")
	}
	t.Skip("helm is not installed (./test.sh installs it)")
	return ""
}

const chart = "helm/switchyard"

// render runs helm template with the given --set values and returns the
// manifests by kind.
func render(t *testing.T, sets ...string) map[string][]map[string]any {
	t.Helper()
	args := []string{"template", "gw", chart}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm(t), args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	byKind := map[string][]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helm template's output: %v", err)
		}
		if doc != nil {
			kind, _ := doc["kind"].(string)
			byKind[kind] = append(byKind[kind], doc)
		}
	}
	return byKind
}

// get walks a manifest by keys (strings) and list indexes (ints).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestHelmLint(t *testing.T) {
	if out, err := exec.Command(helm(t), "lint", "--strict", chart).CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
}

// The default values render a Deployment that runs the image as documented:
// the configuration mounted as a directory (so that a changed ConfigMap reaches
// the file the gateway watches), probes on the admin port, non-root, a memory
// limit the Go runtime knows of; a Service, a PodDisruptionBudget; and a
// configuration the gateway itself accepts.
func TestHelmDefaults(t *testing.T) {
	m := render(t)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "ServiceAccount"} {
		if len(m[kind]) != 1 {
			t.Errorf("%d %s, want 1", len(m[kind]), kind)
		}
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "ServiceMonitor"} {
		if len(m[kind]) != 0 {
			t.Errorf("%s rendered though not enabled", kind)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	dep := m["Deployment"][0]
	c := get(dep, "spec", "template", "spec", "containers", 0)
	args := strings.Join(toStrings(get(c, "args")), " ")
	if !strings.HasPrefix(args, "-config /etc/switchyard/gateway.yaml -listen :8080 -watch 10s") {
		t.Errorf("args %q", args)
	}
	if get(dep, "spec", "replicas") != 2 {
		t.Errorf("replicas %v", get(dep, "spec", "replicas"))
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if get(c, probe, "httpGet", "path") != path || get(c, probe, "httpGet", "port") != "admin" {
			t.Errorf("%s %v", probe, get(c, probe))
		}
	}
	if get(c, "ports", 1, "name") != "admin" || get(c, "ports", 1, "containerPort") != 9901 {
		t.Errorf("ports %v", get(c, "ports"))
	}
	mount := get(c, "volumeMounts", 0)
	if get(mount, "mountPath") != "/etc/switchyard" || get(mount, "subPath") != nil {
		t.Errorf("config mount %v: want the directory /etc/switchyard", mount)
	}
	if get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true ||
		get(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("the pod may run as root or write its root filesystem")
	}
	if get(c, "env", 0, "name") != "GOMEMLIMIT" || get(c, "env", 0, "value") != "230MiB" {
		t.Errorf("env %v", get(c, "env"))
	}
	if get(dep, "spec", "template", "metadata", "annotations", "checksum/config") != nil {
		t.Error("with reload: watch the pods must not roll on a config change")
	}
	gatewayYAML, _ := get(m["ConfigMap"][0], "data", "gateway.yaml").(string)
	if _, err := config.Parse("gateway.yaml", []byte(gatewayYAML)); err != nil {
		t.Errorf("the chart's default configuration is refused by the gateway: %v\n%s", err, gatewayYAML)
	}
}

// The options: an autoscaler in place of a fixed replica count, a
// ServiceMonitor, a configuration from a Secret, secrets mounted as files,
// rolling the pods on a changed configuration, and the public port for probes
// when there is no admin listener.
func TestHelmOptions(t *testing.T) {
	m := render(t, "autoscaling.enabled=true", "serviceMonitor.enabled=true", "existingConfigSecret=gw-config",
		"secretMounts[0].secretName=upstream-mtls", "secretMounts[0].mountPath=/etc/switchyard/upstream")
	if len(m["HorizontalPodAutoscaler"]) != 1 || len(m["ServiceMonitor"]) != 1 || len(m["ConfigMap"]) != 0 {
		t.Fatalf("kinds rendered: %v", keys(m))
	}
	dep := m["Deployment"][0]
	if get(dep, "spec", "replicas") != nil {
		t.Error("a fixed replica count fights the autoscaler")
	}
	if get(m["ServiceMonitor"][0], "spec", "endpoints", 0, "port") != "admin" {
		t.Errorf("ServiceMonitor %v", get(m["ServiceMonitor"][0], "spec"))
	}
	pod := get(dep, "spec", "template", "spec")
	if get(pod, "volumes", 0, "secret", "secretName") != "gw-config" || get(pod, "volumes", 1, "secret", "secretName") != "upstream-mtls" ||
		get(pod, "containers", 0, "volumeMounts", 1, "mountPath") != "/etc/switchyard/upstream" {
		t.Errorf("volumes %v", get(pod, "volumes"))
	}

	sum := func(sets ...string) any {
		d := render(t, append([]string{"reload=restart"}, sets...)...)["Deployment"][0]
		if strings.Contains(strings.Join(toStrings(get(d, "spec", "template", "spec", "containers", 0, "args")), " "), "-watch") {
			t.Error("reload: restart still watches the file")
		}
		return get(d, "spec", "template", "metadata", "annotations", "checksum/config")
	}
	if a, b := sum(), sum("config.shutdown_delay=1s"); a == nil || a == b {
		t.Errorf("checksums %v and %v: a changed configuration must roll the pods", a, b)
	}

	noAdmin := render(t, "config.admin=null")["Deployment"][0]
	if get(noAdmin, "spec", "template", "spec", "containers", 0, "readinessProbe", "httpGet", "port") != "http" {
		t.Error("without an admin listener the probes must use the public port")
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, e := range l {
		out[i], _ = e.(string)
	}
	return out
}

func keys(m map[string][]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

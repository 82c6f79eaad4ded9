package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const valid = `
listen: 127.0.0.1:9000
pools:
  users:
    endpoints: [http://127.0.0.1:1]
  orders:
    endpoints: [http://127.0.0.1:2]
  catalog:
    endpoints: [http://127.0.0.1:3]
  reviews:
    endpoints: [http://127.0.0.1:4]
    health_check:
      interval: 250ms
`

func TestParseValid(t *testing.T) {
	c, err := Parse("gw.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.Pools["reviews"].HealthCheck.Interval.Duration != 250*time.Millisecond {
		t.Errorf("values not read: %+v", c)
	}
	if c.Pools["users"].HealthCheck.Interval.Duration != 5*time.Second || c.GraphQL.QueryCacheSize != 1000 || !*c.GraphQL.Playground {
		t.Errorf("defaults not set: %+v", c)
	}
}

func TestExampleFileIsValid(t *testing.T) {
	for _, name := range []string{"../gateway.example.yaml", "../gateway.declared.yaml"} {
		if _, err := Load(name); err != nil {
			t.Fatal(err)
		}
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown key", func(s string) string {
			return strings.Replace(s, "      interval: 250ms", "      intervall: 250ms", 1)
		}, []string{"gw.yaml:13: pools.reviews.health_check.intervall: unknown key"}},
		{"unknown top-level key", func(s string) string { return "lisen: x\n" + s }, []string{"gw.yaml:1: lisen: unknown key"}},
		{"bad duration", func(s string) string { return strings.Replace(s, "250ms", "fast", 1) },
			[]string{`gw.yaml:13: pools.reviews.health_check.interval: "fast" is not a duration`}},
		{"bad URL", func(s string) string { return strings.Replace(s, "http://127.0.0.1:2", "htp://127.0.0.1:2", 1) },
			[]string{`gw.yaml:7: pools.orders.endpoints[0]: "htp://127.0.0.1:2" is not an endpoint URL`}},
		{"URL with a path", func(s string) string { return strings.Replace(s, "http://127.0.0.1:3", "http://127.0.0.1:3/api", 1) },
			[]string{`gw.yaml:9: pools.catalog.endpoints[0]:`}},
		{"wrong type", func(s string) string { return s + "graphql:\n  query_cache_size: lots\n" },
			[]string{"gw.yaml:15: graphql.query_cache_size: wrong type"}},
		{"a list for a duration", func(s string) string { return s + "shutdown_timeout: [1s]\n" },
			[]string{"gw.yaml:14: shutdown_timeout: wrong type: a sequence where a duration is expected"}},
		{"a list for a number", func(s string) string { return s + "graphql:\n  max_body_bytes: [1]\n" },
			[]string{"gw.yaml:15: graphql.max_body_bytes: wrong type: a list where a number is expected"}},
		{"missing pool", func(s string) string {
			return strings.Replace(s, "  catalog:\n    endpoints: [http://127.0.0.1:3]\n", "", 1)
		},
			[]string{`gw.yaml:3: pools: pool "catalog" is missing`}},
		{"several errors at once", func(s string) string {
			return strings.Replace(strings.Replace(s, "250ms", "-1s", 1), "127.0.0.1:9000", "nope", 1)
		}, []string{`gw.yaml:2: listen: "nope" is not a host:port`, "gw.yaml:13: pools.reviews.health_check.interval: must not be negative"}},
		{"unknown policy", func(s string) string {
			return strings.Replace(s, "    endpoints: [http://127.0.0.1:1]", "    endpoints: [http://127.0.0.1:1]\n    policy: random", 1)
		},
			[]string{`gw.yaml:6: pools.users.policy: "random" is not a balancing policy (use round_robin, least_request or ring_hash)`}},
		{"ring hash without a key", func(s string) string {
			return strings.Replace(s, "    endpoints: [http://127.0.0.1:1]", "    endpoints: [http://127.0.0.1:1]\n    policy: ring_hash", 1)
		}, []string{`pools.users.hash_on: ring_hash needs exactly one of header, cookie or client_ip`}},
		{"a bad sticky cookie", func(s string) string {
			return strings.Replace(s, "    endpoints: [http://127.0.0.1:1]", "    endpoints: [http://127.0.0.1:1]\n    sticky: {cookie: \"a b\"}", 1)
		}, []string{`gw.yaml:6: pools.users.sticky.cookie: "a b" is not a cookie name`}},
		{"a weight for no endpoint", func(s string) string {
			return strings.Replace(s, "    endpoints: [http://127.0.0.1:1]", "    endpoints: [http://127.0.0.1:1]\n    weights: {\"http://127.0.0.1:9\": 2}", 1)
		}, []string{`gw.yaml:6: pools.users.weights.http://127.0.0.1:9: not one of the pool's endpoints`}},
		{"a bad trusted proxy", func(s string) string { return s + "trusted_proxies:\n  - 10.0.0.0/8\n  - 10.0.0.1:80\n" },
			[]string{`gw.yaml:16: trusted_proxies[1]: "10.0.0.1:80" is not an address or CIDR prefix`}},
		{"a bad rate limit", func(s string) string { return s + "rate_limits:\n  per_caller: {rate: 0, burst: 5}\n" },
			[]string{`gw.yaml:15: rate_limits.per_caller.rate: must be a positive number`}},
		{"a cost budget below max_cost", func(s string) string { return s + "rate_limits:\n  cost_per_caller: {rate: 100, burst: 500}\n" },
			[]string{`gw.yaml:15: rate_limits.cost_per_caller.burst: must be at least graphql.limits.max_cost (10000)`}},
		{"a missing trusted documents file", func(s string) string { return s + "graphql:\n  trusted_documents: /nonexistent/manifest.json\n" },
			[]string{`gw.yaml:15: graphql.trusted_documents: /nonexistent/manifest.json: open /nonexistent/manifest.json: no such file or directory`}},
		{"an HS256 issuer over http", func(s string) string {
			return s + "auth:\n  oidc:\n    - issuer: http://idp.example.com\n      audiences: [switchyard]\n      algorithms: [RS256, HS256]\n"
		}, []string{`gw.yaml:16: auth.oidc[0].issuer: "http://idp.example.com" is not an issuer URL`,
			`gw.yaml:18: auth.oidc[0].algorithms[1]: "HS256" is not accepted: only asymmetric algorithms are`}},
		{"an issuer without audiences", func(s string) string {
			return s + "auth:\n  oidc:\n    - issuer: https://idp.example.com\n      clock_skew: 1h\n"
		}, []string{`gw.yaml:16: auth.oidc[0].audiences: name the audiences`, `gw.yaml:17: auth.oidc[0].clock_skew: must be at most 5m`}},
		{"an empty requirement", func(s string) string {
			return s + "auth:\n  routes:\n    /graphql: {authenticated: false}\n    graphql: {scopes: [a]}\n"
		}, []string{`gw.yaml:16: auth.routes./graphql: a requirement needs authenticated: true or scopes`,
			`gw.yaml:17: auth.routes.graphql: "graphql" is not a route pattern`}},
		{"a bad Redis URL", func(s string) string {
			return s + "rate_limits:\n  per_caller: {rate: 1, burst: 2}\n  redis: {url: \"http://:secret@cache:6379\", timeout: 0s}\n"
		}, []string{`gw.yaml:16: rate_limits.redis.url: "http://:xxxxx@cache:6379" is not a Redis URL`, `rate_limits.redis.timeout: must be more than 0`}},
		{"bad routes", func(s string) string {
			return s + "routes:\n  - name: a\n    match: {path: \"/x/{id\"}\n    proxy: {pool: nope, rewrite: \"/y/{name}\"}\n  - name: a\n    respond: {status: 99}\n    redirect: {to: /z}\n"
		}, []string{`gw.yaml:16: routes[0].match.path:`, `gw.yaml:17: routes[0].proxy.pool: no pool "nope"`,
			`routes[0].proxy.rewrite: {name} is not one of`, `gw.yaml:18: routes[1].name: "a" is used twice`,
			`gw.yaml:18: routes[1]: a route needs exactly one of proxy, respond and redirect`, `gw.yaml:19: routes[1].respond.status: 99 is not a status`}},
		{"a redirect to any host", func(s string) string {
			return s + "routes:\n  - name: r\n    match: {hosts: [\"*.example.com\"]}\n    redirect: {to: \"https://{host}/\", hosts: [\"a/b\"]}\n"
		}, []string{`routes[0].redirect.default_host: the redirect uses {host}`, `routes[0].redirect.hosts[0]: "a/b" is not a host name`}},
		{"values for no declared schema", func(s string) string { return s + "graphql:\n  schema_config: {token: t}\n" },
			[]string{`gw.yaml:15: graphql.schema_config: values for a declared schema, but graphql.schema names none`}},
		{"a bad memory limit", func(s string) string { return s + "memory_limit: lots\n" },
			[]string{`gw.yaml:14: memory_limit: wrong type: "lots" is not a size`}},
		{"not YAML", func(s string) string { return s + "\n  : : [\n" }, []string{"gw.yaml:", "not valid YAML"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("gw.yaml", []byte(tc.edit(valid)), demoPools...)
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

// Every problem of a file comes in one pass, sorted by line, whatever its kind: a
// duplicate key (said plainly, with the line of the first), a value of the wrong
// type, an unknown key, a bad value, a rate limit and an auth rule on routes that
// do not exist. A value of the wrong type gets no second, spurious complaint.
func TestErrorsInOnePassSortedByLine(t *testing.T) {
	file := valid + `graphql:
  query_cache_size: lots
  max_body_bytes: 1
  introspection: maybe
versions: {}
versions: {}
rate_limits:
  per_route:
    /nope/graphql: {rate: 1, burst: 1}
    route:missing: {rate: 1, burst: 1}
auth:
  routes:
    /v9/graphql: {authenticated: true}
lisen: x
`
	_, err := Parse("gw.yaml", []byte(file), demoPools...)
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`gw.yaml:15: graphql.query_cache_size: wrong type: the text "lots" where a number is expected`,
		`gw.yaml:17: graphql.introspection: wrong type: the text "maybe" where true or false is expected`,
		`gw.yaml:19: versions: given twice: this key is already set at line 18 (keep one)`,
		`gw.yaml:22: rate_limits.per_route./nope/graphql: no route "/nope/graphql": the routes are /graphql, /v1/graphql, /v2/graphql`,
		`gw.yaml:23: rate_limits.per_route.route:missing: no L7 route is named "missing"`,
		`gw.yaml:26: auth.routes./v9/graphql: no route "/v9/graphql"`,
		`gw.yaml:27: lisen: unknown key`,
	}
	if len(lines) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d:\n got %q\nwant %q", i+1, lines[min(i, len(lines)-1)], w)
		}
	}
}

func TestMemoryLimitSizes(t *testing.T) {
	for text, want := range map[string]int64{"1048576": 1 << 20, "200MiB": 200 << 20, "1 GiB": 1 << 30, "512KiB": 512 << 10, "7B": 7} {
		c, err := Parse("gw.yaml", []byte(valid+"memory_limit: "+text+"\n"), demoPools...)
		if err != nil || int64(c.MemoryLimit) != want {
			t.Errorf("%s: %v, %v; want %d", text, c, err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/gw.yaml")
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestEqualValuesCompareEqual(t *testing.T) {
	a, err := Parse("a.yaml", []byte(strings.Replace(valid, "250ms", "0.25s", 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Pools["reviews"], b.Pools["reviews"]) {
		t.Fatal("0.25s and 250ms make different pools")
	}
}

// TestEveryFieldHasAKey walks the configuration's types, the subsystems' options
// embedded in it included, and fails on an exported field without a yaml key: such
// a field would be read under a name nobody documented, or refused as unknown.
func TestEveryFieldHasAKey(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type, at string)
	walk = func(tp reflect.Type, at string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice || tp.Kind() == reflect.Map {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] || tp == reflect.TypeFor[Duration]() || tp == reflect.TypeFor[Date]() {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("yaml")
			switch {
			case tag == "-":
			case tag == "":
				t.Errorf("%s.%s (%s) has no yaml key", at, f.Name, tp)
			case strings.HasPrefix(tag, ","): // inline: the embedded struct's keys are this one's
				walk(f.Type, at)
			default:
				walk(f.Type, at+"."+strings.Split(tag, ",")[0])
			}
		}
	}
	walk(reflect.TypeFor[Config](), "config")
}

// demoPools are the pools the gateway requires for its built-in schema.
var demoPools = []string{"users", "orders", "catalog", "reviews"}

package main

// The pass-through floor (case w3-floor): what a 20-line Go reverse proxy does for
// W3, GET /products/p1 passed to the catalog service: net/http's server and
// httputil.ReverseProxy over a Transport tuned for one busy upstream (keep-alive
// connections enough for the load, no compression, HTTP/1.1), the instances taken
// in turn. No routing, policies, metrics or logs: the least work a pass-through can
// be, which the gateway's L7 route (case w3) is compared to.

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// runProxyFloor is the proxy-floor subcommand: it serves the pass-through floor
// until ctx ends.
func runProxyFloor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench proxy-floor", flag.ContinueOnError)
	listen := fs.String("listen", w3FloorAddr, "listen `address`")
	upstreams := fs.String("upstreams", "", "comma-separated base `URLs` of the instances")
	maxIdle := fs.Int("max-idle-per-host", 256, "idle keep-alive connections kept per instance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var targets []*url.URL
	for u := range strings.SplitSeq(*upstreams, ",") {
		if u = strings.TrimSpace(u); u != "" {
			t, err := url.Parse(u)
			if err != nil {
				return fmt.Errorf("-upstreams: %v", err)
			}
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("-upstreams: need at least one URL")
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[next.Add(1)%uint64(len(targets))])
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        *maxIdle * len(targets),
			MaxIdleConnsPerHost: *maxIdle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.Handle("/", proxy)
	return serveUntil(ctx, *listen, mux)
}

// Command demo-upstreams runs the four demo storefront services (users, orders,
// catalog, reviews) standalone, by default two instances of each on loopback, until
// it receives SIGINT or SIGTERM.
//
// Usage:
//
//	demo-upstreams [-users addrs] [-orders addrs] [-catalog addrs] [-reviews addrs]
//	               [-delay duration] [-stats addr]
//
// Each addrs is a comma-separated list of listen addresses, one per instance; an
// empty list runs no instance of that service. -delay makes every instance wait that
// long before answering (but health checks), to benchmark latency. -stats starts a
// separate listener serving GET /stats, the number of calls each service received as
// {"users":N,"orders":N,"catalog":N,"reviews":N}, and POST /stats/reset.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-upstreams:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the graceful shutdown; requests still in flight after it
// are cut.
const shutdownTimeout = 5 * time.Second

// run starts the services as args ask, writes one line per instance ("users
// http://127.0.0.1:9101") and, with -stats, one for the stats listener ("stats
// http://127.0.0.1:9100/stats") to stdout, then serves until ctx ends and shuts down
// gracefully.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo-upstreams", flag.ContinueOnError)
	addrs := map[demo.Service]*string{
		demo.Users:   fs.String("users", "127.0.0.1:9101,127.0.0.1:9102", "comma-separated listen `addresses` of the users service"),
		demo.Orders:  fs.String("orders", "127.0.0.1:9201,127.0.0.1:9202", "comma-separated listen `addresses` of the orders service"),
		demo.Catalog: fs.String("catalog", "127.0.0.1:9301,127.0.0.1:9302", "comma-separated listen `addresses` of the catalog service"),
		demo.Reviews: fs.String("reviews", "127.0.0.1:9401,127.0.0.1:9402", "comma-separated listen `addresses` of the reviews service"),
	}
	delay := fs.Duration("delay", 0, "delay before every answer but health checks")
	statsAddr := fs.String("stats", "", "listen `address` of the control listener: /stats and /faults (off if empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *delay < 0 {
		return fmt.Errorf("negative -delay %v", *delay)
	}

	listen := make(map[demo.Service][]string, len(addrs))
	for svc, list := range addrs {
		for a := range strings.SplitSeq(*list, ",") {
			if a = strings.TrimSpace(a); a != "" {
				listen[svc] = append(listen[svc], a)
			}
		}
	}
	cluster, err := demo.StartClusterAt(demo.NewDataset(), listen)
	if err != nil {
		return err
	}
	defer cluster.Close()
	for _, in := range cluster.All() {
		in.SetFault(demo.Fault{Delay: *delay})
		if _, err := fmt.Fprintf(stdout, "%-8s %s\n", in.Service(), in.URL()); err != nil {
			return err
		}
	}

	var stats *http.Server
	statsDone := make(chan error, 1)
	if *statsAddr != "" {
		ln, err := net.Listen("tcp", *statsAddr)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		stats = &http.Server{Handler: controlHandler(cluster, *delay), ReadHeaderTimeout: 10 * time.Second}
		go func() { statsDone <- stats.Serve(ln) }()
		if _, err := fmt.Fprintf(stdout, "%-8s http://%s/stats\n", "stats", ln.Addr()); err != nil {
			_ = stats.Close()
			return err
		}
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-statsDone:
		serveErr = fmt.Errorf("stats: %w", serveErr)
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	errs := []error{serveErr}
	if stats != nil {
		errs = append(errs, stats.Shutdown(sctx))
	}
	errs = append(errs, cluster.Shutdown(sctx))
	return errors.Join(errs...)
}

// registerStats serves GET /stats and POST /stats/reset over the cluster's counters.
func registerStats(mux *http.ServeMux, c *demo.Cluster) {
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(struct {
			Users   int64 `json:"users"`
			Orders  int64 `json:"orders"`
			Catalog int64 `json:"catalog"`
			Reviews int64 `json:"reviews"`
		}{c.Calls(demo.Users), c.Calls(demo.Orders), c.Calls(demo.Catalog), c.Calls(demo.Reviews)})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /stats/reset", func(w http.ResponseWriter, r *http.Request) {
		c.ResetCounters()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
}

// Command gateway runs Switchyard. With -config it serves the upstreams named in the
// file; with none it starts the demo storefront (four REST services, two instances
// each, on loopback) and serves the demo schema over them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal stops the process at once, draining or not
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// defaultGCPercent is the GC target used when the environment sets no GOGC.
const defaultGCPercent = 400

// version is the release, set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// run runs the command line: "version", "check -config FILE", "help", or the
// gateway. Asking for help (help, -h, -help, --help, also after a command) prints
// the usage to stdout and is not an error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var err error
	switch cmd := firstArg(args); cmd {
	case "version":
		printVersion(stdout)
	case "check":
		err = check(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
	case "", "-":
		err = serve(ctx, args, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (commands: check, version, help; run gateway help)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return nil
	}
	return err
}

// firstArg is the command args start with: their first word unless it is a flag
// other than help ("" then), "-" when args are flags only.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	switch a := args[0]; {
	case a == "-h" || a == "-help" || a == "--help":
		return a
	case strings.HasPrefix(a, "-"):
		return "-"
	default:
		return a
	}
}

const usage = `Switchyard: a GraphQL and backend-for-frontend gateway and L7 load balancer.

Usage:
  gateway [flags]               serve; without -config, the built-in demo on loopback
  gateway check -config FILE    validate a configuration file as the gateway would at
                                start (every problem with file, line and key), and exit
  gateway version               print the version and what the binary was built from
  gateway help                  print this help

Flags of the server:
`

// printUsage prints the commands and the server's flags.
func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	fs, _ := serveFlagSet(io.Discard)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nSignals: SIGHUP reloads the configuration file; SIGINT or SIGTERM stops gracefully.")
	fmt.Fprintln(w, "Documentation: README.md and docs/ in the source tree.")
}

// printVersion prints the release and what the binary was built from.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "switchyard gateway %s\n", version)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(w, "  go       %s\n  module   %s %s\n", bi.GoVersion, bi.Main.Path, bi.Main.Version)
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "CGO_ENABLED":
				fmt.Fprintf(w, "  %-8s %s\n", strings.TrimPrefix(s.Key, "vcs."), s.Value)
			}
		}
	}
}

// check validates a configuration file as the gateway would at start, without
// starting anything: every problem is printed with file, line and key.
func check(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // help goes to stdout, printed by run
	configPath := fs.String("config", "", "the configuration file to check (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("check: -config FILE is required")
	}
	cfg, err := config.Load(*configPath, gateway.DemoPools()...)
	if err != nil {
		return err
	}
	gw, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return buildError(cfg, *configPath, err)
	}
	gw.Close()
	fmt.Fprintf(stdout, "%s: ok (%d pools)\n", *configPath, len(cfg.Pools))
	return nil
}

// buildError is the error of making a gateway of cfg, read from file: a problem
// the build found with a key of the file gets its file and line, as the file's own
// checks do; another is prefixed with the file's name.
func buildError(cfg *config.Config, file string, err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) || file == "" {
		return cfg.Locate(err)
	}
	return fmt.Errorf("%s: %w", file, err)
}

// serveFlags are the flags of the serving command.
type serveFlags struct {
	config, listen, logLevel, debug string
	watch                           time.Duration
}

func parseServeFlags(args []string, stderr io.Writer) (serveFlags, error) {
	fs, f := serveFlagSet(stderr)
	if err := fs.Parse(args); err != nil {
		return *f, err
	}
	if fs.NArg() > 0 {
		return *f, fmt.Errorf("unexpected arguments %q after the flags (run gateway help)", fs.Args())
	}
	return *f, nil
}

// serveFlagSet is the server's flags; errors of parsing them go to stderr.
func serveFlagSet(stderr io.Writer) (*flag.FlagSet, *serveFlags) {
	var f serveFlags
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // help goes to stdout, printed by run
	fs.StringVar(&f.config, "config", "", "the configuration `file` (YAML); none runs the built-in demo")
	fs.StringVar(&f.listen, "listen", "", "listen `address`, overriding the configuration's")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.debug, "debug-listen", "", "if set, serve Go's pprof profiles on this `address` (keep it private)")
	fs.DurationVar(&f.watch, "watch", 0, "if set, check the configuration file this often and reload it when it changes")
	return fs, &f
}

// serve runs the gateway until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	if os.Getenv("GOGC") == "" {
		// A gateway's live heap is small and its garbage is per-request: collecting
		// at 4x the live heap instead of 2x halves the GC's CPU for a few MB more.
		debug.SetGCPercent(defaultGCPercent)
	}
	cfg, closeDemo, err := loadConfig(f, stdout)
	if err != nil {
		return err
	}
	defer closeDemo()

	rt, err := gateway.NewRuntime(cfg, log)
	if err != nil {
		return buildError(cfg, f.config, err)
	}
	defer rt.Close()
	term := rt.TLS()
	defer watchReloads(rt, f, log)()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	scheme := "http"
	if term != nil {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	fmt.Fprintf(stdout, "GraphQL endpoint: %s/graphql\n", base)
	if *cfg.GraphQL.Playground {
		fmt.Fprintf(stdout, "Playground:       %s/playground\n", base)
	}
	to := cfg.Timeouts
	srv := &http.Server{
		// The body is bounded per read (PaceBodies), not whole: ReadTimeout stays 0.
		Handler:           gateway.PaceBodies(rt.Handler(), to.BodyRead.Duration),
		ReadHeaderTimeout: to.ReadHeader.Duration,
		WriteTimeout:      to.Write.Duration,
		IdleTimeout:       to.Idle.Duration,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	sides, err := startSideListeners(cfg, f, rt, ln, stdout)
	defer sides.close()
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	if term != nil {
		srv.TLSConfig = term.Config()
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	select {
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	return drain(rt, srv, serveErr, log)
}

// loadConfig loads the -config file, or starts the demo's upstreams and returns
// their configuration; the function returned stops them.
func loadConfig(f serveFlags, stdout io.Writer) (*config.Config, func(), error) {
	var cfg *config.Config
	closeDemo := func() {}
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config, gateway.DemoPools()...); err != nil {
			return nil, nil, err
		}
	} else {
		cluster, err := demo.StartCluster(demo.NewDataset(), 2)
		if err != nil {
			return nil, nil, fmt.Errorf("starting the demo upstreams: %w", err)
		}
		closeDemo = func() { _ = cluster.Close() }
		cfg = demoConfig(cluster)
		fmt.Fprintln(stdout, "No -config given: running the demo storefront (4 services x 2 instances on loopback).")
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	return cfg, closeDemo, nil
}

// watchReloads reloads the configuration file on SIGHUP and, with -watch, when
// it changes: a bad one is refused and logged, and the running configuration
// goes on serving. The demo has no file to reload. The function returned stops
// watching.
func watchReloads(rt *gateway.Runtime, f serveFlags, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				if f.config == "" {
					log.Warn("SIGHUP ignored: the demo has no configuration file to reload")
					continue
				}
				reload(rt, f.config, f.listen, log)
			}
		}
	}()
	if f.config != "" && f.watch > 0 {
		go watchFile(f.config, f.watch, done, func() { reload(rt, f.config, f.listen, log) })
	}
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// sideServers are the listeners beside the main one, closed together.
type sideServers []*http.Server

func (s sideServers) close() {
	for _, srv := range s {
		_ = srv.Close()
	}
}

// startSideListeners starts the admin, debug and HTTPS-redirect listeners that
// the configuration and flags ask for.
func startSideListeners(cfg *config.Config, f serveFlags, rt *gateway.Runtime, main net.Listener, stdout io.Writer) (sideServers, error) {
	term := rt.TLS()
	var sides sideServers
	start := func(addr string, srv *http.Server, what, banner string) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening for %s: %w", what, err)
		}
		go func() { _ = srv.Serve(ln) }()
		sides = append(sides, srv)
		fmt.Fprintf(stdout, banner, ln.Addr())
		return nil
	}
	if cfg.Admin.Listen != "" {
		srv := &http.Server{Handler: rt.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		if err := start(cfg.Admin.Listen, srv, "admin", "Admin:            http://%s/pools\n"); err != nil {
			return sides, err
		}
	}
	if f.debug != "" {
		srv := &http.Server{Handler: debugMux(), ReadHeaderTimeout: 10 * time.Second}
		if err := start(f.debug, srv, "debug", "Profiles:         http://%s/debug/pprof/\n"); err != nil {
			return sides, err
		}
	}
	if term != nil && cfg.TLS.RedirectListen != "" {
		_, port, _ := net.SplitHostPort(main.Addr().String())
		srv := &http.Server{Handler: redirectToHTTPS(port, term.Names()), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second}
		if err := start(cfg.TLS.RedirectListen, srv, "redirects", "HTTP redirects:   http://%s\n"); err != nil {
			return sides, err
		}
	}
	return sides, nil
}

// drain shuts the gateway down gracefully. Readiness turns false first, so that
// load balancers stop sending; after shutdown_delay the listener stops accepting,
// and in-flight requests get shutdown_timeout to finish. The health loops stop
// last (the runtime's Close, deferred by serve).
func drain(rt *gateway.Runtime, srv *http.Server, serveErr <-chan error, log *slog.Logger) error {
	rt.Drain()
	cfg := rt.Current().Config() // the latest, if reloads changed the shutdown settings
	log.Info("draining", "delay", cfg.ShutdownDelay.Duration.String(), "timeout", cfg.ShutdownTimeout.Duration.String())
	select {
	case <-time.After(cfg.ShutdownDelay.Duration):
	case err := <-serveErr:
		return fmt.Errorf("serving: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			log.Warn("shutdown timeout passed with requests in flight; closing them")
			_ = srv.Close()
			return nil
		}
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info("stopped")
	return nil
}

// watchFile calls changed whenever the file's size or modification time changes,
// checking every interval until stop is closed.
func watchFile(path string, interval time.Duration, stop <-chan struct{}, changed func()) {
	stamp := func() string {
		fi, err := os.Stat(path)
		if err != nil {
			return ""
		}
		return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
	}
	last := stamp()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if now := stamp(); now != "" && now != last {
				last = now
				changed()
			}
		}
	}
}

// reload loads the configuration file again and swaps it in; what goes wrong is
// logged, and the running configuration stays.
func reload(rt *gateway.Runtime, path, listen string, log *slog.Logger) {
	cfg, err := config.Load(path, gateway.DemoPools()...)
	if err == nil {
		if listen != "" {
			cfg.Listen = listen
		}
		err = rt.Reload(cfg)
	}
	if err != nil {
		log.Error("reload refused; the running configuration stays", "error", err.Error())
	}
}

// redirectToHTTPS answers every request with a permanent redirect to the same URL
// over HTTPS on port. The host is the request's only if the certificates name it
// (else the first name they hold), so that a forged Host header cannot send a
// client, or a cache in front, anywhere else.
func redirectToHTTPS(port string, names []string) http.Handler {
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[strings.ToLower(n)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		if !allowed[host] {
			if len(names) == 0 {
				http.Error(w, "use https", http.StatusBadRequest)
				return
			}
			host = names[0]
		}
		target := host
		if strings.Contains(host, ":") { // an IPv6 literal
			target = "[" + host + "]"
		}
		if port != "443" {
			target = net.JoinHostPort(host, port)
		}
		http.Redirect(w, r, "https://"+target+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// debugMux serves the pprof handlers, on their own listener so that profiles are
// never reachable through the public one.
func debugMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// demoConfig is the configuration of the built-in demo: one pool per service over the
// cluster's instances.
func demoConfig(c *demo.Cluster) *config.Config {
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, svc := range demo.Services {
		cfg.Pools[string(svc)] = config.Pool{Options: lb.Options{
			Endpoints:   c.URLs(svc),
			HealthCheck: lb.HealthCheck{Interval: config.D(2 * time.Second)},
		}}
	}
	cfg.SetDefaults()
	return cfg
}

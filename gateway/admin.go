package gateway

import (
	"encoding/json"
	"net/http"
)

// AdminHandler returns the handler of the admin listener: GET /metrics serves the
// metrics (when enabled), GET /healthz liveness and GET /readyz readiness (for
// probes that cannot pass the public listener's client certificate check), and
// GET /pools shows every
// pool's state (its breaker and retry counters, and each endpoint's health,
// ejection, breaker, requests in flight and latency). It shows upstream addresses,
// so it belongs on a private listener, never the public one.
func (g *Gateway) AdminHandler() http.Handler { return g.router.admin }

func (g *Gateway) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pools", g.adminPools)
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", g.readyz)
	if g.obs.metrics != nil {
		mux.Handle("GET /metrics", g.obs.metrics.Handler())
	}
	return mux
}

// healthz answers liveness: the process serves.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

type adminEndpoint struct {
	URL       string  `json:"url"`
	Healthy   bool    `json:"healthy"`
	Ejected   bool    `json:"ejected"`
	Breaker   string  `json:"breaker"`
	InFlight  int64   `json:"in_flight"`
	LatencyMS float64 `json:"latency_ms"`
}

type adminPool struct {
	Name           string          `json:"name"`
	Ready          bool            `json:"ready"`
	Policy         string          `json:"policy"`
	Breaker        string          `json:"breaker"`
	Retries        int64           `json:"retries"`
	RetriesRefused int64           `json:"retries_refused_by_budget"`
	Endpoints      []adminEndpoint `json:"endpoints"`
}

func (g *Gateway) adminPools(w http.ResponseWriter, _ *http.Request) {
	out := make([]adminPool, 0, len(g.pools.list))
	for _, p := range g.pools.list {
		st := p.Stats()
		ap := adminPool{Name: p.Name(), Ready: p.Ready(), Policy: string(g.cfg.Pools[p.Name()].Policy),
			Breaker: st.Breaker, Retries: st.Retries, RetriesRefused: st.RetriesRefused}
		for _, e := range p.Status() {
			ap.Endpoints = append(ap.Endpoints, adminEndpoint{URL: e.URL, Healthy: e.Healthy, Ejected: e.Ejected,
				Breaker: e.Breaker, InFlight: e.InFlight, LatencyMS: float64(e.Latency.Microseconds()) / 1000})
		}
		out = append(out, ap)
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"pools": out})
}

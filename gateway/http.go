package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	graphv2 "github.com/switchyard/switchyard/graph/v2"
	"github.com/switchyard/switchyard/resolvers"
	"github.com/switchyard/switchyard/upstreams"
)

// graphqlHandler serves GraphQL over HTTP (GET and POST, application/json and
// application/graphql-response+json) on the version 2 schema.
func (g *Gateway) graphqlHandler() http.Handler {
	es := graphv2.NewExecutableSchema(graphv2.Config{Resolvers: resolvers.New(g.clients)})
	srv := handler.New(es)
	srv.AddTransport(httpTransport{maxBody: g.cfg.GraphQL.MaxBodyBytes})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](g.cfg.GraphQL.QueryCacheSize))
	if *g.cfg.GraphQL.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(resolvers.NewRootFetch(g.clients))
	srv.SetErrorPresenter(resolvers.ErrorPresenter(g.log))
	srv.SetRecoverFunc(resolvers.Recover(g.log))

	wait := g.cfg.GraphQL.LoaderWait.Duration
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := upstreams.WithLoaders(r.Context(), upstreams.NewLoaders(g.clients, wait))
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recoverer turns a panic in any handler into a logged 500 with a coded error, never
// a stack in the response.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("panic in handler", "panic", v, "path", r.URL.Path, "stack", string(debug.Stack()))
					writeJSONError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// readyz answers 200 when every pool has a healthy endpoint and 503 otherwise, with
// the number of healthy endpoints of each pool. Endpoint addresses are not shown:
// this route is public.
func (g *Gateway) readyz(w http.ResponseWriter, _ *http.Request) {
	type pool struct {
		Ready     bool `json:"ready"`
		Healthy   int  `json:"healthy"`
		Endpoints int  `json:"endpoints"`
	}
	out := struct {
		Ready bool            `json:"ready"`
		Pools map[string]pool `json:"pools"`
	}{Ready: true, Pools: map[string]pool{}}
	for _, p := range g.pools {
		ps := pool{Ready: p.Ready()}
		for _, e := range p.Status() {
			ps.Endpoints++
			if e.Healthy {
				ps.Healthy++
			}
		}
		out.Pools[p.Name()] = ps
		out.Ready = out.Ready && ps.Ready
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

package gateway

import (
	"fmt"
	"os"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/upstreams"
)

// loadDeclared loads the declared schema the configuration names, or is nil when
// it names none: its sources are pools of the configuration, each called through
// its own service client. The gateway then serves it, as the current version, in
// place of the built-in demo.
func loadDeclared(g *Gateway) (*connectors.Executable, error) {
	if len(g.cfg.GraphQL.Schema) == 0 {
		return nil, nil
	}
	names, err := g.cfg.GraphQL.SchemaFiles()
	if err != nil {
		return nil, fmt.Errorf("graphql.schema: %w", err)
	}
	files := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("graphql.schema: %w", err)
		}
		files[n] = string(b)
	}
	s, err := connectors.Load(files, func(name string) bool { return g.pools.named(name) != nil })
	if err != nil {
		return nil, fmt.Errorf("graphql.schema:\n%w", err)
	}
	services := map[string]*upstreams.Service{}
	for name := range s.Sources {
		svc := upstreams.NewService(name, g.pools.named(name))
		svc.SetLogger(g.log)
		if g.obs.recording() {
			svc.SetTracer(g.obs.tracer)
		}
		services[name] = svc
	}
	values, err := connectors.ConfigValues(g.cfg.GraphQL.SchemaConfig)
	if err != nil {
		return nil, fmt.Errorf("graphql.schema_config: %w", err)
	}
	ex, err := connectors.NewExecutable(s, services, values)
	if err != nil {
		return nil, err
	}
	ex.SetBatchWait(g.cfg.GraphQL.LoaderWait.Duration)
	return ex, nil
}

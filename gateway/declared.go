package gateway

import (
	"fmt"
	"os"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/schema"
	"github.com/switchyard/switchyard/upstreams"
)

// buildDeclared loads the declared schema the configuration names, if any: its
// sources are pools of the configuration, each called through its own service
// client. The gateway then serves it, as the current version, in place of the
// built-in demo.
func (g *Gateway) buildDeclared(*Gateway, *closers) error {
	if len(g.cfg.GraphQL.Schema) == 0 {
		return nil
	}
	names, err := g.cfg.GraphQL.SchemaFiles()
	if err != nil {
		return fmt.Errorf("graphql.schema: %w", err)
	}
	files := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return fmt.Errorf("graphql.schema: %w", err)
		}
		files[n] = string(b)
	}
	s, err := connectors.Load(files, func(name string) bool { return g.pool(name) != nil })
	if err != nil {
		return fmt.Errorf("graphql.schema:\n%w", err)
	}
	services := map[string]*upstreams.Service{}
	for name := range s.Sources {
		svc := upstreams.NewService(name, g.pool(name))
		svc.SetLogger(g.log)
		if g.shared.tracing.Recording() {
			svc.SetTracer(g.shared.tracer)
		}
		services[name] = svc
	}
	values, err := connectors.ConfigValues(g.cfg.GraphQL.SchemaConfig)
	if err != nil {
		return fmt.Errorf("graphql.schema_config: %w", err)
	}
	if g.declared, err = connectors.NewExecutable(s, services, values); err != nil {
		return err
	}
	g.declared.SetBatchWait(g.cfg.GraphQL.LoaderWait.Duration)
	return nil
}

// versions are the schema versions served: the built-in ones, or the current one
// alone for a declared schema.
func (g *Gateway) versions() []string {
	if g.declared != nil {
		return []string{schema.Current}
	}
	return schema.Versions
}

package gateway

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/resolvers"
)

// operationHooks are what every executed operation goes through on its way out,
// as a gqlgen extension so that the transport only reads requests and writes
// answers: the operation's span (the upstream calls' parent), the rule that a
// required upstream's failure fails the whole answer, and the outcome in the
// metrics and on the span. Register it first, so that it wraps the others.
type operationHooks struct {
	version  string
	required map[string]bool  // upstreams whose failure fails the whole response
	metrics  *metrics.Metrics // nil when disabled
	tracer   trace.Tracer     // nil when tracing is off
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationHooks{}

func (operationHooks) ExtensionName() string                   { return "SwitchyardOperations" }
func (operationHooks) Validate(graphql.ExecutableSchema) error { return nil }

// operationVerdict is what the hooks tell the transport of one operation: set in
// the request's context by the transport, filled in by the hooks.
type operationVerdict struct {
	// request is the HTTP request the operation came in, for the extensions
	// that decide by its caller.
	request        *http.Request
	requiredFailed bool // the answer's data was dropped: a 502
	// refusal, set by an extension that refused the operation before it ran,
	// writes the answer in place of the operation's.
	refusal func(http.ResponseWriter)
}

type verdictKey struct{}

func withVerdict(ctx context.Context, v *operationVerdict) context.Context {
	return context.WithValue(ctx, verdictKey{}, v)
}

func (o operationHooks) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	name := operationName(opCtx)
	var span trace.Span
	if o.tracer != nil {
		ctx, span = o.tracer.Start(ctx, "graphql "+cmp.Or(name, "anonymous"), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("graphql.operation.name", name), attribute.String("graphql.schema.version", o.version)))
	}
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		outcome := "ok"
		switch {
		case resp == nil: // the request's context ended
			outcome = "canceled"
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				outcome = "timeout"
			}
		case o.requiredFailed(resp) || resolvers.RequiredFailed(ctx):
			// A required upstream failed: the answer is not worth having in part.
			resp.Data = nil
			if v, _ := ctx.Value(verdictKey{}).(*operationVerdict); v != nil {
				v.requiredFailed = true
			}
			outcome = "error"
		case len(resp.Errors) > 0:
			outcome = "partial"
		}
		if span != nil {
			if outcome != "ok" {
				span.SetStatus(codes.Error, outcome)
			}
			span.End()
		}
		if o.metrics != nil {
			o.metrics.GraphQLOperation(o.version, name, outcome, time.Since(opCtx.Stats.Read.Start))
		}
		return resp
	}
}

// requiredFailed reports whether an error of resp comes from a required upstream.
func (o operationHooks) requiredFailed(resp *graphql.Response) bool {
	if len(o.required) == 0 {
		return false
	}
	for _, e := range resp.Errors {
		if u, ok := e.Extensions["upstream"].(string); ok && o.required[u] {
			return true
		}
	}
	return false
}

// costBudget spends each operation's cost (as the cost limit computed it) from its
// caller's budget in the rate limits; an operation the budget cannot pay is not
// run, and the rate limits' 429 is the answer. Register it before operationHooks.
type costBudget struct {
	rates *policies.RateLimits
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = costBudget{}

func (costBudget) ExtensionName() string                   { return "SwitchyardCostBudget" }
func (costBudget) Validate(graphql.ExecutableSchema) error { return nil }

func (c costBudget) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	v, _ := ctx.Value(verdictKey{}).(*operationVerdict)
	if v == nil || v.request == nil {
		return next(ctx)
	}
	cost := 0
	if st := extension.GetComplexityStats(ctx); st != nil {
		cost = st.Complexity
	}
	route := "unmatched"
	if rc := chi.RouteContext(ctx); rc != nil && rc.RoutePattern() != "" {
		route = rc.RoutePattern()
	}
	if v.refusal = c.rates.SpendCost(v.request, route, cost); v.refusal != nil {
		return func(context.Context) *graphql.Response { return nil }
	}
	return next(ctx)
}

// operationName is the operation's name, from the request or its document.
func operationName(opCtx *graphql.OperationContext) string {
	if opCtx.OperationName == "" && opCtx.Operation != nil {
		return opCtx.Operation.Name
	}
	return opCtx.OperationName
}

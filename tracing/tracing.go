// Package tracing owns the gateway's OpenTelemetry tracer provider: off (a no-op
// provider, close to free) unless configured, else batching spans to an OTLP/HTTP
// collector. It also holds the W3C Trace Context propagator the gateway uses to
// accept a client's traceparent and pass it on to every upstream call.
package tracing

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options configure tracing.
type Options struct {
	// Enabled turns span recording and export on. Off, traces are still passed on
	// from clients to upstreams.
	Enabled bool
	// Endpoint is the OTLP/HTTP collector's base URL, such as http://127.0.0.1:4318.
	Endpoint string
	// Sample is the share of new traces recorded (0 to 1); a trace the client
	// started is recorded as the client sampled it.
	Sample float64
	// ServiceName names the gateway in the traces.
	ServiceName string
}

// Propagator is the W3C Trace Context propagator (traceparent, tracestate).
var Propagator = propagation.TraceContext{}

// Provider is a tracer provider with a way to flush and stop it.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.shutdown == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// Recording reports whether spans are recorded (tracing is enabled).
func (p *Provider) Recording() bool { return p.shutdown != nil }

// New returns the provider of opts: a no-op one when tracing is off. It starts no
// connection before the first export.
func New(opts Options) (*Provider, error) {
	if !opts.Enabled {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(strings.TrimSuffix(opts.Endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("tracing exporter: %w", err)
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(opts.ServiceName))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.Sample))),
	)
	return &Provider{TracerProvider: tp, shutdown: tp.Shutdown}, nil
}

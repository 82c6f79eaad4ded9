package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

// The codes of extensions.code that the gateway sets.
const (
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"
	CodeCircuitOpen         = "CIRCUIT_OPEN"
	CodeUpstreamBadResponse = "UPSTREAM_BAD_RESPONSE"
	CodeRequestCanceled     = "REQUEST_CANCELED"
	CodeForbidden           = "FORBIDDEN"
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeInternal            = "INTERNAL_SERVER_ERROR"
)

// ErrorPresenter returns the gqlgen error presenter of the gateway: the one place
// where errors become what clients see. Upstream failures get extensions.code and
// extensions.upstream and a message that names no URL; errors the gateway does not
// know are logged with their detail and shown as a generic internal error.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var ue *upstreams.Error
		var ie *InputError
		var qe *gqlerror.Error
		var fe *fallbackError
		switch {
		case errors.As(err, &ue):
			code, msg := upstreamCode(ue)
			gerr.Message = msg
			gerr.Extensions = map[string]any{"code": code, "upstream": ue.Upstream}
			if errors.As(err, &fe) {
				gerr.Extensions["fallback"] = true
			}
			if ue.Kind != upstreams.KindCanceled {
				log.LogAttrs(ctx, slog.LevelWarn, "upstream call failed",
					slog.String("upstream", ue.Upstream), slog.String("error", ue.Error()))
			}
		case errors.Is(err, policies.ErrForbidden):
			gerr.Message = "not allowed to see this field"
			gerr.Extensions = map[string]any{"code": CodeForbidden}
		case errors.As(err, &ie):
			gerr.Message = ie.Msg
			gerr.Extensions = map[string]any{"code": CodeBadUserInput}
		case errors.As(err, &qe) && qe.Err == nil:
			// An error gqlgen or gqlparser made for the request itself (parse,
			// validation, coercion): its message is meant for the client.
		default:
			log.LogAttrs(ctx, slog.LevelError, "resolver failed", slog.String("error", err.Error()),
				slog.String("path", gerr.Path.String()))
			gerr.Message = "internal error"
			gerr.Extensions = map[string]any{"code": CodeInternal}
		}
		return gerr
	}
}

func upstreamCode(e *upstreams.Error) (code, msg string) {
	switch e.Kind {
	case upstreams.KindTimeout:
		return CodeUpstreamTimeout, fmt.Sprintf("the %s service did not answer in time", e.Upstream)
	case upstreams.KindCircuitOpen:
		return CodeCircuitOpen, fmt.Sprintf("the %s service is failing; the call was not attempted", e.Upstream)
	case upstreams.KindBadResponse:
		return CodeUpstreamBadResponse, fmt.Sprintf("the %s service gave an answer the gateway could not use", e.Upstream)
	case upstreams.KindCanceled:
		return CodeRequestCanceled, "the request was canceled"
	case upstreams.KindNotFound:
		// A 404 that reaches a client is one the contract does not allow (a list
		// endpoint, a batch): a lookup by id turns its 404 into null before this.
		return CodeUpstreamBadResponse, fmt.Sprintf("the %s service gave an answer the gateway could not use", e.Upstream)
	default:
		return CodeUpstreamUnavailable, fmt.Sprintf("the %s service is unavailable", e.Upstream)
	}
}

// Recover returns the gqlgen recover function: a panic in a resolver is logged with
// its value and becomes an internal error, never a crash or a stack in the response.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.LogAttrs(ctx, slog.LevelError, "panic in resolver", slog.Any("panic", v))
		return errors.New("internal error") // presented as INTERNAL_SERVER_ERROR
	}
}

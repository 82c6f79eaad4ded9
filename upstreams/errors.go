package upstreams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/switchyard/switchyard/lb"
)

// Kind says what went wrong with an upstream call, in terms a caller can act on.
type Kind uint8

// The kinds of upstream failure.
const (
	// KindUnavailable: the upstream answered 5xx, refused or reset the connection, or
	// no endpoint could be reached.
	KindUnavailable Kind = iota + 1
	// KindTimeout: the call's deadline passed before the answer arrived.
	KindTimeout
	// KindNotFound: the upstream answered 404 for the record asked for.
	KindNotFound
	// KindCircuitOpen: the call was refused without being sent because the upstream is
	// failing.
	KindCircuitOpen
	// KindBadResponse: the upstream answered something that is not its contract (an
	// unexpected status or a body that does not decode).
	KindBadResponse
	// KindCanceled: the caller went away before the answer arrived.
	KindCanceled
)

var kindNames = [...]string{
	KindUnavailable: "unavailable",
	KindTimeout:     "timeout",
	KindNotFound:    "not found",
	KindCircuitOpen: "circuit open",
	KindBadResponse: "bad response",
	KindCanceled:    "canceled",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is the error of every failed upstream call. It names the upstream and the
// operation, says what kind of failure it was, and wraps the cause. Its text is for
// logs: it may hold internal detail and must not be shown to clients.
type Error struct {
	Upstream string // the upstream's name, "users"
	Op       string // what was asked, "get user"
	Kind     Kind
	Status   int   // the HTTP status of the answer, or 0 when none arrived
	Err      error // the cause, if any
}

func (e *Error) Error() string {
	msg := e.Upstream + ": " + e.Op + ": " + e.Kind.String()
	if e.Status != 0 {
		msg += ": status " + strconv.Itoa(e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsNotFound reports whether err is an upstream's "no such record".
func IsNotFound(err error) bool {
	var ue *Error
	return errors.As(err, &ue) && ue.Kind == KindNotFound
}

// classify turns a transport error into the kind a caller acts on.
func classify(ctx context.Context, err error) Kind {
	switch {
	case errors.Is(err, lb.ErrCircuitOpen):
		return KindCircuitOpen
	case errors.Is(err, context.Canceled):
		if ctx.Err() == context.Canceled {
			return KindCanceled
		}
		return KindUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return KindTimeout
	case errors.Is(err, lb.ErrMalformedResponse), errors.Is(err, lb.ErrResponseTooLarge):
		return KindBadResponse
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	return KindUnavailable
}

func statusError(upstream, op string, status int) *Error {
	switch {
	case status == 404:
		return &Error{Upstream: upstream, Op: op, Kind: KindNotFound, Status: status}
	case status >= 500:
		return &Error{Upstream: upstream, Op: op, Kind: KindUnavailable, Status: status}
	default:
		return &Error{Upstream: upstream, Op: op, Kind: KindBadResponse, Status: status,
			Err: fmt.Errorf("unexpected status")}
	}
}

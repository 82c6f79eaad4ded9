package h1

import (
	"errors"
	"os"
)

// A keep-alive connection carries one exchange at a time, and in HTTP/1.1 nothing
// ties an answer to its request but their order. An upstream that sends more than
// it was asked for (a second answer some milliseconds after the first, a stray
// CRLF, a body after a 204) would have that read as the answer to the next request
// sent on the connection, which may be another client's: a desync. So, as
// net/http's persistConn does, a connection is reused only when nothing is owed on
// it:
//
//   - a connection whose answer was not read to its end, whose exchange failed or
//     was cancelled, or whose answer left bytes in the read buffer is closed, never
//     reused;
//   - a connection taken from the idle set is checked, right before the request is
//     written, for anything that arrived while it sat idle: bytes, or the upstream's
//     close or reset. Either retires it, and the next idle one is tried.
//
// The check is one non-blocking peek at the socket (MSG_PEEK|MSG_DONTWAIT), which
// costs a system call per reused connection and no goroutine; net/http instead
// keeps a goroutine blocked in a read on every connection, which wakes one
// goroutine per request. What remains, for both: bytes that arrive after the check,
// while a request is being written and before its answer, are read as its answer.
// No HTTP/1.1 client can tell those apart; the checks of the records against the
// request (a lookup by id answered with another id is refused) catch what such an
// answer would carry, and the connection is retired when the real answer follows.
//
// Connections closed instead of reused are counted by reason (Client.Discards).

// DiscardReason is why a connection was closed instead of reused.
type DiscardReason int

const (
	DiscardNone        DiscardReason = iota
	DiscardIdleData                  // bytes arrived while it was idle: an answer nobody asked for
	DiscardIdleClosed                // the upstream closed or reset it while it was idle
	DiscardTrailing                  // bytes followed the end of an answer
	DiscardBroken                    // its exchange failed or was cancelled before the answer's end
	DiscardIdleTimeout               // idle for longer than the idle timeout
	NumDiscardReasons
)

// DiscardReasons name the reasons a keep-alive connection is closed instead of
// reused, as Client.Discards counts them, in a fixed order.
var DiscardReasons = [NumDiscardReasons]string{
	DiscardNone:        "none",
	DiscardIdleData:    "idle_data",
	DiscardIdleClosed:  "idle_closed",
	DiscardTrailing:    "trailing_bytes",
	DiscardBroken:      "broken",
	DiscardIdleTimeout: "idle_timeout",
}

// tlsUnsolicited reports what the TLS layer of c holds that no request asked for:
// records it read from the socket along with the last answer's, or an alert or
// close_notify among them. A read with a deadline in the past returns what it
// holds without touching the socket, whose bytes the peek sees; handshake messages
// (session tickets) are taken in on the way and are not input of their own.
func (c *conn) tlsUnsolicited() DiscardReason {
	if c.tls == nil {
		return DiscardNone
	}
	if c.tls.rec.midRecord() {
		return DiscardIdleData
	}
	c.deadline = aLongTimeAgo // begin sets the request's own
	if err := c.tls.Conn.SetReadDeadline(aLongTimeAgo); err != nil {
		return DiscardIdleClosed
	}
	n, err := c.tls.Conn.Read(c.peekBuf[:])
	switch {
	case n > 0:
		return DiscardIdleData
	case errors.Is(err, os.ErrDeadlineExceeded):
		return DiscardNone
	default:
		return DiscardIdleClosed
	}
}

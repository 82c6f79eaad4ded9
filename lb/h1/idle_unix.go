//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import (
	"net"
	"syscall"
)

// watch makes c checkable for unsolicited input.
func (c *conn) watch(tc *net.TCPConn) {
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	c.raw = raw
	c.peekFunc = c.peek // bound once: a method value per check would allocate
}

// unsolicited reports what arrived on the idle connection c since its last answer
// was read: nothing (DiscardNone), bytes, or the upstream's close.
func (c *conn) unsolicited() DiscardReason {
	if c.br.Buffered() > 0 {
		return DiscardIdleData
	}
	if r := c.tlsUnsolicited(); r != DiscardNone {
		return r
	}
	if c.raw == nil {
		return DiscardNone
	}
	// Control, unlike Read, does not look at the connection's deadline, which may
	// have passed while it was idle.
	if err := c.raw.Control(c.peekFunc); err != nil {
		return DiscardIdleClosed
	}
	switch {
	case c.peekErr == syscall.EAGAIN || c.peekErr == syscall.EWOULDBLOCK:
		return DiscardNone
	case c.peekErr != nil || c.peekN == 0:
		return DiscardIdleClosed // reset, or end of stream
	default:
		return DiscardIdleData
	}
}

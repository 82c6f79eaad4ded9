//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1

import "net"

// watch does nothing where the socket cannot be peeked at: only what is left in the
// read buffer is seen.
func (c *conn) watch(*net.TCPConn) {}

// unsolicited reports bytes left in c's read buffer.
func (c *conn) unsolicited() DiscardReason {
	if c.br.Buffered() > 0 {
		return DiscardIdleData
	}
	return c.tlsUnsolicited()
}

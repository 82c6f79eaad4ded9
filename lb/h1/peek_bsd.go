//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import "syscall"

// peek looks at the socket without reading from it and without waiting.
func (c *conn) peek(fd uintptr) {
	for {
		c.peekN, _, c.peekErr = syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if c.peekErr != syscall.EINTR {
			return
		}
	}
}

package h1

import (
	"syscall"
	"unsafe"
)

// peek looks at the socket without reading from it and without waiting. It never
// blocks, so it is a raw system call, without telling the scheduler.
func (c *conn) peek(fd uintptr) {
	for {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&c.peekBuf[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		c.peekN, c.peekErr = int(n), nil
		if errno != 0 {
			c.peekN, c.peekErr = 0, errno
		}
		if errno != syscall.EINTR {
			return
		}
	}
}

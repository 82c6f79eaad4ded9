package h1

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIdleCheck compares the two ways of seeing what arrives on an idle
// connection: the peek the transport does before reusing one ("peek"), and a
// goroutine blocked in a read while the connection is idle, stopped when it is taken
// ("read-loop"), which is what a read loop per idle connection costs on each reuse.
func BenchmarkIdleCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tr := NewClient(Options{Addr: ln.Addr().String(), ConnectTimeout: time.Second})
	c, err := tr.dial(context.Background(), time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.nc.Close()
	b.Run("peek", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := c.unsolicited(); r != DiscardNone {
				b.Fatal(DiscardReasons[r])
			}
		}
	})
	b.Run("read-loop", func(b *testing.B) {
		b.ReportAllocs()
		done := make(chan struct{})
		var buf [1]byte
		for b.Loop() {
			go func() {
				_, _ = c.nc.Read(buf[:])
				done <- struct{}{}
			}()
			runtime.Gosched() // let it block in the read, as an idle connection's would
			_ = c.nc.SetReadDeadline(aLongTimeAgo)
			<-done
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	})
}

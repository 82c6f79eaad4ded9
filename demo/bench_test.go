package demo

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a reusable ResponseWriter, so that a benchmark counts the
// allocations of the handler alone.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(status int) { w.status = status }

func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

func BenchmarkUsersHandler(b *testing.B) {
	ds := NewDataset()
	h := NewHandler(ds, Users)
	for _, bc := range []struct{ name, target string }{
		{"one", "/users/u42"},
		{"batch10", "/users?ids=" + idList("u", 10)},
		{"batch100", "/users?ids=" + idList("u", 100)},
	} {
		req := httptest.NewRequest("GET", bc.target, nil)
		b.Run(bc.name+"/recorder", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
		b.Run(bc.name+"/handler", func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatal(w.status)
				}
			}
		})
	}
}

func BenchmarkReviewsBatchHandler(b *testing.B) {
	h := NewHandler(NewDataset(), Reviews)
	req := httptest.NewRequest("GET", "/reviews?productIds="+idList("p", 100), nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

func BenchmarkNewDataset(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewDataset()
	}
}

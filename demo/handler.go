package demo

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Service names one of the four demo services.
type Service string

// The demo services.
const (
	// Users serves GET /users/{id} and GET /users?ids=a,b.
	Users Service = "users"
	// Orders serves GET /orders?userId=u1 and GET /orders/{id}.
	Orders Service = "orders"
	// Catalog serves GET /products/{id} and GET /products?ids=a,b.
	Catalog Service = "catalog"
	// Reviews serves GET /reviews?productId=p1 and GET /reviews?productIds=a,b.
	Reviews Service = "reviews"
)

// Services lists the demo services in a fixed order. Treat it as read-only.
var Services = []Service{Users, Orders, Catalog, Reviews}

func (s Service) valid() bool {
	switch s {
	case Users, Orders, Catalog, Reviews:
		return true
	}
	return false
}

// MaxBatch is the largest number of IDs a batch call (ids=, productIds=) may carry.
const MaxBatch = 100

// Response bodies that never change.
const (
	bodyHealthy          = `{"status":"ok"}`
	bodyNotFound         = `{"error":"not found"}`
	bodyMethodNotAllowed = `{"error":"method not allowed"}`
	bodyTooMany          = `{"error":"too many ids: at most 100 per call"}`
	bodyMalformedQuery   = `{"error":"malformed query"}`
	bodyInjected         = `{"error":"injected"}`
	bodyEmptyList        = `[]`
)

// pooledBufferLimit is the largest buffer put back into the pool; larger ones, which
// no valid request needs, are left to the garbage collector.
const pooledBufferLimit = 1 << 20

// NewHandler returns the HTTP handler of one demo service over ds. The routes are
// exactly those of the REST contract, plus GET /healthz on every service, which
// answers 200 {"status":"ok"}. Every answer is JSON: 404 {"error":"not found"} for an
// unknown entity or route, 400 {"error":"..."} for a missing or empty required query
// parameter or more than MaxBatch IDs, 405 for a method other than GET or HEAD.
// Batch calls leave unknown IDs out and answer each known ID once.
//
// NewHandler panics if svc is not one of Users, Orders, Catalog and Reviews.
func NewHandler(ds *Dataset, svc Service) http.Handler {
	if !svc.valid() {
		panic("demo: unknown service " + strconv.Quote(string(svc)))
	}
	return &handler{
		ds:          ds,
		svc:         svc,
		contentType: []string{"application/json"},
		allow:       []string{"GET, HEAD"},
		bufs: sync.Pool{New: func() any {
			b := make([]byte, 0, 16<<10)
			return &b
		}},
	}
}

type handler struct {
	ds  *Dataset
	svc Service
	// Header values shared by every response; never modified.
	contentType []string
	allow       []string
	bufs        sync.Pool // of *[]byte, for batch responses
}

// routeKind tells how a path matched a collection such as /users.
type routeKind int

const (
	noRoute    routeKind = iota
	collection           // "/users"
	item                 // "/users/{id}"
)

// route matches path against base ("/users"); for an item it returns the ID.
func route(path, base string) (routeKind, string) {
	rest, ok := strings.CutPrefix(path, base)
	switch {
	case !ok:
		return noRoute, ""
	case rest == "":
		return collection, ""
	case len(rest) > 1 && rest[0] == '/' && strings.IndexByte(rest[1:], '/') < 0:
		return item, rest[1:]
	}
	return noRoute, ""
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/healthz" {
		if h.allowed(w, r) {
			h.writeString(w, http.StatusOK, bodyHealthy)
		}
		return
	}
	switch h.svc {
	case Users:
		h.serveEntities(w, r, path, "/users", h.ds.userJSON, 'u')
	case Catalog:
		h.serveEntities(w, r, path, "/products", h.ds.productJSON, 'p')
	case Orders:
		kind, id := route(path, "/orders")
		switch {
		case kind == noRoute:
			h.writeString(w, http.StatusNotFound, bodyNotFound)
		case !h.allowed(w, r): // answered 405
		case kind == item:
			h.serveOne(w, id, h.ds.orderJSON, 'o')
		default:
			h.serveList(w, r, "userId", 'u', h.ds.ordersOfJSON)
		}
	case Reviews:
		if path != "/reviews" {
			h.writeString(w, http.StatusNotFound, bodyNotFound)
			return
		}
		if !h.allowed(w, r) {
			return
		}
		ids, err := queryValue(r.URL.RawQuery, "productIds")
		switch {
		case err != nil:
			h.writeString(w, http.StatusBadRequest, bodyMalformedQuery)
		case ids != "":
			h.serveBatch(w, ids, 'p', h.ds.reviewsOfJSON, true)
		default:
			h.serveList(w, r, "productId", 'p', h.ds.reviewsOfJSON)
		}
	}
}

// serveEntities serves GET base/{id} and GET base?ids=a,b.
func (h *handler) serveEntities(w http.ResponseWriter, r *http.Request, path, base string, elems [][]byte, prefix byte) {
	kind, id := route(path, base)
	switch {
	case kind == noRoute:
		h.writeString(w, http.StatusNotFound, bodyNotFound)
	case !h.allowed(w, r): // answered 405
	case kind == item:
		h.serveOne(w, id, elems, prefix)
	default:
		ids, err := queryValue(r.URL.RawQuery, "ids")
		switch {
		case err != nil:
			h.writeString(w, http.StatusBadRequest, bodyMalformedQuery)
		case ids == "":
			h.writeString(w, http.StatusBadRequest, `{"error":"missing query parameter ids"}`)
		default:
			h.serveBatch(w, ids, prefix, elems, false)
		}
	}
}

// serveOne answers the pre-built entity with the given ID, or 404.
func (h *handler) serveOne(w http.ResponseWriter, id string, elems [][]byte, prefix byte) {
	i, ok := parseID(id, prefix, len(elems))
	if !ok {
		h.writeString(w, http.StatusNotFound, bodyNotFound)
		return
	}
	h.write(w, http.StatusOK, elems[i])
}

// serveList answers the pre-built list (an order or review list) of the entity named
// by the required query parameter param; an unknown entity has an empty list.
func (h *handler) serveList(w http.ResponseWriter, r *http.Request, param string, prefix byte, lists [][]byte) {
	id, err := queryValue(r.URL.RawQuery, param)
	switch {
	case err != nil:
		h.writeString(w, http.StatusBadRequest, bodyMalformedQuery)
	case id == "":
		h.writeString(w, http.StatusBadRequest, `{"error":"missing query parameter `+param+`"}`)
	default:
		if i, ok := parseID(id, prefix, len(lists)); ok {
			h.write(w, http.StatusOK, lists[i])
		} else {
			h.writeString(w, http.StatusOK, bodyEmptyList)
		}
	}
}

// serveBatch answers a JSON array of the elements named by the comma-separated list
// of IDs. With flatten, each element is itself a JSON array whose members are spliced
// into the answer (the reviews of several products).
func (h *handler) serveBatch(w http.ResponseWriter, list string, prefix byte, elems [][]byte, flatten bool) {
	var idx [MaxBatch]int32
	var seen [64]uint64 // a set of indexes below 4096, for duplicates
	n, tokens := 0, 0
	for list != "" {
		var tok string
		tok, list, _ = strings.Cut(list, ",")
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		if tokens++; tokens > MaxBatch {
			h.writeString(w, http.StatusBadRequest, bodyTooMany)
			return
		}
		i, ok := parseID(tok, prefix, len(elems))
		if !ok {
			continue
		}
		if i < 64*len(seen) {
			if seen[i/64]&(1<<(i%64)) != 0 {
				continue
			}
			seen[i/64] |= 1 << (i % 64)
		} else if slices.Contains(idx[:n], int32(i)) {
			continue
		}
		idx[n] = int32(i)
		n++
	}

	bp := h.bufs.Get().(*[]byte)
	b := append((*bp)[:0], '[')
	for _, i := range idx[:n] {
		e := elems[i]
		if flatten {
			e = e[1 : len(e)-1] // strip [ and ]
			if len(e) == 0 {
				continue
			}
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	b = append(b, ']')
	h.write(w, http.StatusOK, b)
	if cap(b) <= pooledBufferLimit {
		*bp = b
		h.bufs.Put(bp)
	}
}

// allowed reports whether the request method is GET or HEAD, and answers 405 if not.
func (h *handler) allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header()["Allow"] = h.allow
	h.writeString(w, http.StatusMethodNotAllowed, bodyMethodNotAllowed)
	return false
}

// chunkingThreshold is the body size up to which net/http computes Content-Length on
// its own (its bufferBeforeChunkingSize); larger bodies get an explicit one, so that
// clients never see chunked encoding.
const chunkingThreshold = 2048

func (h *handler) write(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = h.contentType
	if len(body) >= chunkingThreshold {
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body) // a failed write means the client went away
}

func (h *handler) writeString(w http.ResponseWriter, status int, body string) {
	w.Header()["Content-Type"] = h.contentType
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// queryValue returns the decoded value of the first key=value pair of the raw query
// with the given key, or "" if there is none. Unlike url.ParseQuery it does not
// allocate unless the value is percent-encoded.
func queryValue(raw, key string) (string, error) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				return "", err
			}
		}
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				return "", err
			}
		}
		return v, nil
	}
	return "", nil
}

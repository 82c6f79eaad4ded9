package main

// The net/http floor: what a careful hand-written Go backend-for-frontend does for W1,
// with the standard library and nothing else. It is what the gateway is compared to:
// the same three upstream calls, made in parallel over one keep-alive transport,
// decoded into typed structs, merged, and encoded as the GraphQL answer would be.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The ids W1 asks for; the floor always fetches these.
const (
	floorUserPath    = "/users/u1"
	floorProductPath = "/products/p1"
	floorOrderPath   = "/orders/o1"
)

// maxUpstreamBody bounds one upstream answer, as the gateway's pools do (16 MiB).
const maxUpstreamBody = 16 << 20

// The upstream records, typed after the demo REST contract. The floor decodes every
// field, as a real client library would, not only the ones it answers with.
type (
	floorMoney struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	floorUser struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
		Tier  string `json:"tier"`
	}
	floorProduct struct {
		ID       string     `json:"id"`
		Name     string     `json:"name"`
		Category string     `json:"category"`
		Price    floorMoney `json:"price"`
	}
	floorOrderItem struct {
		ProductID string     `json:"productId"`
		Quantity  int64      `json:"quantity"`
		UnitPrice floorMoney `json:"unitPrice"`
	}
	floorOrder struct {
		ID        string           `json:"id"`
		UserID    string           `json:"userId"`
		Status    string           `json:"status"`
		CreatedAt string           `json:"createdAt"`
		Items     []floorOrderItem `json:"items"`
	}
)

// floorAnswer is the merged answer, shaped like the gateway's answer to W1:
// {"data":{"user":{"name"},"product":{"name"},"order":{"status","total":{"amount"}}}}.
type floorAnswer struct {
	Data struct {
		User struct {
			Name string `json:"name"`
		} `json:"user"`
		Product struct {
			Name string `json:"name"`
		} `json:"product"`
		Order struct {
			Status string `json:"status"`
			Total  struct {
				Amount int64 `json:"amount"`
			} `json:"total"`
		} `json:"order"`
	} `json:"data"`
}

// roundRobin hands out the URLs of one service's instances in turn.
type roundRobin struct {
	urls []string
	next atomic.Uint64
}

func newRoundRobin(bases []string, path string) *roundRobin {
	rr := &roundRobin{urls: make([]string, len(bases))}
	for i, b := range bases {
		rr.urls[i] = strings.TrimSuffix(b, "/") + path
	}
	return rr
}

func (rr *roundRobin) pick() string {
	return rr.urls[(rr.next.Add(1)-1)%uint64(len(rr.urls))]
}

// floorHandler answers any POST with W1's answer, built from three upstream calls.
// GET /healthz answers 200 for readiness probes.
type floorHandler struct {
	client                 *http.Client
	users, products, order *roundRobin
	bufs                   sync.Pool // *bytes.Buffer, for upstream bodies and answers
}

// newFloorTransport is the one shared keep-alive transport of the floor. maxIdle
// must be at least the number of concurrent requests the load keeps in flight, so
// that no connection is closed and re-dialled under load.
func newFloorTransport(maxIdle int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no global limit: MaxIdleConnsPerHost rules
		MaxIdleConnsPerHost: maxIdle,
		IdleConnTimeout:     90 * time.Second,
		// The upstreams answer small, uncompressed JSON on loopback; asking for gzip
		// would only add a header.
		DisableCompression: true,
	}
}

func newFloorHandler(client *http.Client, users, catalog, orders []string) *floorHandler {
	return &floorHandler{
		client:   client,
		users:    newRoundRobin(users, floorUserPath),
		products: newRoundRobin(catalog, floorProductPath),
		order:    newRoundRobin(orders, floorOrderPath),
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

func (h *floorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// The body (the GraphQL query) is ignored, but read, as any handler reads it.
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20)); err != nil {
		http.Error(w, "could not read the request body", http.StatusBadRequest)
		return
	}

	ctx := r.Context()
	var (
		user             floorUser
		product          floorProduct
		order            floorOrder
		uErr, pErr, oErr error
		wg               sync.WaitGroup
	)
	wg.Go(func() { uErr = h.get(ctx, h.users.pick(), &user) })
	wg.Go(func() { pErr = h.get(ctx, h.products.pick(), &product) })
	oErr = h.get(ctx, h.order.pick(), &order) // the third call on this goroutine
	wg.Wait()
	if err := errors.Join(uErr, pErr, oErr); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}

	var ans floorAnswer
	ans.Data.User.Name = user.Name
	ans.Data.Product.Name = product.Name
	ans.Data.Order.Status = order.Status
	ans.Data.Order.Total.Amount = orderTotal(order)

	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.putBuf(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(&ans); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// orderTotal is the sum of quantity * unit price over the order's items.
func orderTotal(o floorOrder) int64 {
	var total int64
	for _, it := range o.Items {
		total += it.Quantity * it.UnitPrice.Amount
	}
	return total
}

// get fetches url and decodes its JSON answer into v. The body is read to its end,
// so that the connection goes back to the transport's idle pool.
func (h *floorHandler) get(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.putBuf(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxUpstreamBody+1)); err != nil {
		return fmt.Errorf("GET %s: reading: %w", url, err)
	}
	if buf.Len() > maxUpstreamBody {
		return fmt.Errorf("GET %s: answer larger than %d bytes", url, maxUpstreamBody)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", url, err)
	}
	return nil
}

// putBuf returns buf to the pool unless it grew unusually large.
func (h *floorHandler) putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		h.bufs.Put(buf)
	}
}

// runFloor is the floor subcommand: it serves the floor until ctx ends.
func runFloor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench floor", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:18081", "listen `address`")
	users := fs.String("users", "", "comma-separated base `URLs` of the users instances")
	orders := fs.String("orders", "", "comma-separated base `URLs` of the orders instances")
	catalog := fs.String("catalog", "", "comma-separated base `URLs` of the catalog instances")
	maxIdle := fs.Int("max-idle-per-host", 256, "idle keep-alive connections kept per upstream instance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lists := map[string][]string{}
	for name, v := range map[string]string{"users": *users, "orders": *orders, "catalog": *catalog} {
		for u := range strings.SplitSeq(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				lists[name] = append(lists[name], u)
			}
		}
		if len(lists[name]) == 0 {
			return fmt.Errorf("-%s: need at least one URL", name)
		}
	}
	if *maxIdle < 1 {
		return fmt.Errorf("-max-idle-per-host must be positive")
	}

	tr := newFloorTransport(*maxIdle)
	defer tr.CloseIdleConnections()
	h := newFloorHandler(&http.Client{Transport: tr, Timeout: 10 * time.Second},
		lists["users"], lists["catalog"], lists["orders"])
	return serveUntil(ctx, *listen, h)
}

// serveUntil serves h on addr until ctx ends, then shuts the server down
// gracefully: the floors' server.
func serveUntil(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

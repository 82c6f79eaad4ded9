package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// SharedAPQ is the cache of automatic persisted queries kept in Redis, behind a
// bounded LRU in the process: a query one instance registered is found by every
// instance using the same Redis and prefix, so a client whose next request lands
// elsewhere sends its hash only. Redis keys expire TTL after they were last
// registered. While Redis cannot be reached, the local LRU serves alone (a miss
// costs the client one round trip to send its query); the outage is logged.
type SharedAPQ struct {
	*redisConn
	local  *lru.LRU[string]
	prefix string
	ttl    time.Duration
}

var _ graphql.Cache[string] = (*SharedAPQ)(nil)

// APQOptions configure a SharedAPQ.
type APQOptions struct {
	Redis Redis
	TTL   time.Duration // how long Redis keeps a query
	Size  int           // queries held in the process
	Log   *slog.Logger
}

// NewSharedAPQ returns the cache; it connects when first used.
func NewSharedAPQ(o APQOptions) (*SharedAPQ, error) {
	c, err := dialRedis(o.Redis.URL, o.Redis.Timeout.Duration, o.Log,
		"persisted queries: Redis cannot be reached; each instance keeps its own until it can",
		"persisted queries: Redis is reachable again")
	if err != nil {
		return nil, err
	}
	return &SharedAPQ{redisConn: c, local: lru.New[string](max(1, o.Size)), prefix: o.Redis.KeyPrefix, ttl: o.TTL}, nil
}

// Get implements graphql.Cache: the local copy, else Redis's (kept locally).
func (c *SharedAPQ) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := c.local.Get(ctx, hash); ok {
		return q, true
	}
	if !c.usable(c.clock()) {
		return "", false
	}
	rctx, cancel := c.call(ctx)
	defer cancel()
	q, err := c.client.Get(rctx, c.prefix+hash).Result()
	c.outcome(err)
	if err != nil {
		return "", false
	}
	// What another writer put there under the hash is not taken on trust.
	if sum := sha256.Sum256([]byte(q)); len(q) > maxSharedQuery || hex.EncodeToString(sum[:]) != hash {
		c.log.Warn("persisted queries: a query in Redis does not match its hash; ignored", "hash", hash)
		return "", false
	}
	c.local.Add(ctx, hash, q)
	return q, true
}

// maxSharedQuery bounds a query read from Redis.
const maxSharedQuery = 1 << 20

// Add implements graphql.Cache. The APQ extension calls it only for a query whose
// SHA-256 it checked against the hash.
func (c *SharedAPQ) Add(ctx context.Context, hash, query string) {
	c.local.Add(ctx, hash, query)
	if !c.usable(c.clock()) {
		return
	}
	rctx, cancel := c.call(ctx)
	defer cancel()
	c.outcome(c.client.Set(rctx, c.prefix+hash, query, c.ttl).Err())
}

// APQ is gqlgen's automatic persisted queries extension with a code on every error
// it gives: gqlgen codes only the hash it does not hold, and a client must tell a
// hash that does not match its query from a malformed request.
type APQ struct {
	extension.AutomaticPersistedQuery
}

// The codes of APQ's refusals, by gqlgen's messages.
var apqCodes = map[string]string{
	"provided APQ hash does not match query": "PERSISTED_QUERY_HASH_MISMATCH",
	"invalid APQ extension data":             "BAD_REQUEST",
	"unsupported APQ version":                "PERSISTED_QUERY_VERSION_NOT_SUPPORTED",
}

// MutateOperationParameters runs gqlgen's extension and codes its error.
func (a APQ) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	err := a.AutomaticPersistedQuery.MutateOperationParameters(ctx, params)
	if err == nil || err.Extensions["code"] != nil {
		return err
	}
	code := apqCodes[err.Message]
	if code == "" {
		code = "BAD_REQUEST"
	}
	if err.Extensions == nil {
		err.Extensions = map[string]any{}
	}
	err.Extensions["code"] = code
	return err
}

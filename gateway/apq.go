package gateway

import (
	"fmt"
	"io"
	"reflect"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/policies"
)

// persistedQueries is the cache of automatic persisted queries every version
// shares, by hash: in Redis, shared with the other instances, or in the process.
type persistedQueries struct {
	cache graphql.Cache[string]
	cfg   config.APQ
}

// newPersistedQueries keeps prev when the configuration is the same (the queries
// outlive a reload), else makes the cache.
func newPersistedQueries(g *Gateway, prev *persistedQueries) (*persistedQueries, error) {
	a := g.cfg.GraphQL.APQ
	if prev != nil && reflect.DeepEqual(prev.cfg, a) {
		return prev, nil
	}
	if a.Redis == nil {
		return &persistedQueries{cache: lru.New[string](max(1, a.CacheSize)), cfg: a}, nil
	}
	shared, err := policies.NewSharedAPQ(policies.APQOptions{Redis: *a.Redis, TTL: a.TTL.Duration, Size: a.CacheSize,
		Log: g.log.With("component", "apq")})
	if err != nil {
		return nil, fmt.Errorf("graphql.apq.redis.url: %w", err)
	}
	return &persistedQueries{cache: shared, cfg: a}, nil
}

// release closes the Redis client of a cache that keep does not share.
func (p *persistedQueries) release(keep component) {
	if next, _ := keep.(*persistedQueries); next == p {
		return
	}
	if c, ok := p.cache.(io.Closer); ok {
		_ = c.Close()
	}
}

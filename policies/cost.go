package policies

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"weak"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CostLimit is gqlgen's complexity limit (extension.ComplexityLimit: the same cost,
// the same stats for extension.GetComplexityStats, the same error), with the cost of
// an operation that declares no variables computed once: such an operation costs
// the same every time it runs, and gqlgen's query cache gives it the same
// *ast.OperationDefinition each time. An operation with variables is costed per
// request, as its arguments may differ. Limit 0 computes the cost without refusing
// any (for rate limits that spend it).
type CostLimit struct {
	Limit int

	es    graphql.ExecutableSchema
	mu    sync.RWMutex
	costs map[weak.Pointer[ast.OperationDefinition]]int
}

// maxCosts bounds the operations whose cost is kept; past it, all are forgotten.
const maxCosts = 4096

var (
	_ graphql.HandlerExtension        = (*CostLimit)(nil)
	_ graphql.OperationContextMutator = (*CostLimit)(nil)
)

// ExtensionName is gqlgen's, so that its stats are found where gqlgen's are.
func (*CostLimit) ExtensionName() string { return "ComplexityLimit" }

// Validate keeps the schema whose complexity functions price the fields.
func (c *CostLimit) Validate(es graphql.ExecutableSchema) error {
	if es == nil {
		return errors.New("cost limit: no schema")
	}
	c.es = es
	c.costs = map[weak.Pointer[ast.OperationDefinition]]int{}
	return nil
}

// MutateOperationContext prices the operation, records the cost in its stats and
// refuses it when it costs more than the limit.
func (c *CostLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if op == nil {
		return nil
	}
	cost := c.cost(ctx, op, oc.Variables)
	limit := c.Limit
	if limit <= 0 {
		limit = int(^uint32(0) >> 1)
	}
	oc.Stats.SetExtension("ComplexityLimit", &extension.ComplexityStats{Complexity: cost, ComplexityLimit: limit})
	if cost > limit {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", cost, limit)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

func (c *CostLimit) cost(ctx context.Context, op *ast.OperationDefinition, vars map[string]any) int {
	if len(op.VariableDefinitions) > 0 {
		return complexity.Calculate(ctx, c.es, op, vars)
	}
	key := weak.Make(op)
	c.mu.RLock()
	cost, ok := c.costs[key]
	c.mu.RUnlock()
	if ok {
		return cost
	}
	cost = complexity.Calculate(ctx, c.es, op, vars)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.costs[key]; ok {
		return cost
	}
	if len(c.costs) >= maxCosts {
		clear(c.costs)
	}
	c.costs[key] = cost
	runtime.AddCleanup(op, c.forget, key)
	return cost
}

// forget drops the cost of an operation that has been collected.
func (c *CostLimit) forget(key weak.Pointer[ast.OperationDefinition]) {
	c.mu.Lock()
	delete(c.costs, key)
	c.mu.Unlock()
}

//go:build tools

// Package tools pins the code generators this module runs with `go generate`, so that
// their versions live in go.mod like any other dependency.
package tools

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/mailru/easyjson/easyjson"
)

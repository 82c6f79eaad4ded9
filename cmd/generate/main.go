// Command generate runs gqlgen on one configuration, as `gqlgen generate` does, with
// one plugin more: it writes, beside gqlgen's executor, the direct executor of the
// schema (see package execution) into direct_gen.go in the exec package.
//
//	go run ./cmd/generate -config gqlgen.yml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	path := fs.String("config", "gqlgen.yml", "the gqlgen configuration `file`")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := run(*path); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	cfg, err := config.LoadConfig(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return api.Generate(cfg, api.AddPlugin(directPlugin{}))
}

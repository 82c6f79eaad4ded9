#!/usr/bin/env bash
# The whole check of the repository, as CI runs it: formatting, vet, staticcheck,
# generated code up to date, and every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")"

STATICCHECK_VERSION=v0.8.2
HELM_VERSION=v4.3.2

step() { printf '\n==> %s\n' "$*"; }

# The race detector needs cgo, so a C compiler; the shared rate limits' tests need
# a real redis-server. Install what is missing where apt-get can.
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "the tests need ${missing[*]}: install them (as root: apt-get install ${missing[*]})"; exit 1
  fi
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck $STATICCHECK_VERSION"
staticcheck=$(go env GOPATH)/bin/staticcheck
if ! "$staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
"$staticcheck" ./...

# The Helm chart's tests (deploy/) lint and render it with helm, built from the Go
# module proxy.
helm=$(go env GOPATH)/bin/helm
if ! go version -m "$helm" 2>/dev/null | grep -q "helm.sh/helm/v4[[:space:]]*${HELM_VERSION}"; then
  step "installing helm $HELM_VERSION"
  GOFLAGS= go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
fi

# graphql-http's audit of GraphQL over HTTP (gateway/httpaudit_test.go) runs on
# Node.js, with the packages its lock file names.
if [ ! -d gateway/testdata/httpaudit/node_modules/graphql-http ]; then
  step "installing the GraphQL-over-HTTP audit"
  npm ci --prefix gateway/testdata/httpaudit --no-audit --no-fund --loglevel=error
fi

step "go generate leaves no diff"
tree_state() { git status --porcelain; git diff | sha256sum; }
before=$(tree_state)
go generate ./...
after=$(tree_state)
if [ "$before" != "$after" ]; then
  echo "go generate changed the tree: commit the regenerated code"
  git status --short
  exit 1
fi

step "go test -race"
go test -race -count=1 ./...

# The gateway as a container image: a static binary on an empty base, run as a
# non-root user. See docs/deployment.md.
#
#   docker build -t switchyard:v0.1.0 --build-arg VERSION=v0.1.0 .
#   docker run -p 8080:8080 -v "$PWD/gateway.yaml:/etc/switchyard/gateway.yaml:ro" switchyard:v0.1.0
#
# The configuration is read from /etc/switchyard/gateway.yaml; -listen makes the
# public listener reachable from outside the container whatever the file says.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# deploy/deploy_test.go runs this command as written.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gateway ./cmd/gateway

FROM scratch
# Roots for https upstreams, OIDC discovery and Redis over TLS.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/gateway /usr/local/bin/gateway
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gateway"]
CMD ["-config", "/etc/switchyard/gateway.yaml", "-listen", ":8080"]

// Package h1 is the HTTP/1.1 client of the upstream pools: a Client per endpoint
// dials (and, for https, runs the TLS handshake), keeps idle keep-alive connections
// and checks each for unsolicited input before reusing it, writes a request and
// reads its answer within the bounds it was given. It speaks the wire only: which
// endpoint to call, whether to retry on another, health and breakers are package
// lb's. It imports nothing of the gateway's.
package h1

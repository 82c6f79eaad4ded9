package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// An upstream's answer is input like any other: the reader below is strict where
// RFC 9112 lets a recipient be (status codes 100 to 599 only, header names that are
// tokens with no whitespace before the colon, no control characters in values), and
// bounded everywhere: the head of an answer (its interim answers, status line and
// header fields) by the transport's maxHead, a line of it by what is left of that,
// the body by maxBody, the number of interim answers by maxInterim.

// DefaultMaxHeaderBytes is the default bound on the size of an answer's head.
const DefaultMaxHeaderBytes = 64 << 10

// maxInterim is how many interim (1xx) answers may come before the final one, as
// net/http's client allows.
const maxInterim = 5

// head is what readResponse keeps of an answer's head.
type head struct {
	status        int
	http10        bool
	contentLength int64 // -1 when absent
	chunked       bool
	keepAlive     bool
}

// readResponse reads one answer from c into resp. answered reports whether any byte
// of it was read; keepAlive whether the connection may carry another request once
// the answer has been read to its end.
func (t *Client) readResponse(c *conn, isHead bool, resp *Response) (answered, keepAlive bool, err error) {
	budget := t.maxHead
	for interim := 0; ; interim++ {
		h, got, err := t.readHead(c, &budget)
		answered = answered || got
		if err != nil {
			return answered, false, err
		}
		if h.status == 101 {
			// Nothing the pool sends asks to switch protocols.
			return true, false, fmt.Errorf("%w: 101 Switching Protocols to a request that asked for no upgrade", ErrMalformedResponse)
		}
		if h.status < 200 {
			if interim == maxInterim {
				return true, false, fmt.Errorf("%w: more than %d interim answers", ErrMalformedResponse, maxInterim)
			}
			continue // an interim answer; the final one follows
		}
		return true, h.keepAlive, t.readBody(c.br, isHead, h, resp)
	}
}

// readHead reads a status line and header fields, spending budget on their bytes.
func (t *Client) readHead(c *conn, budget *int) (h head, answered bool, err error) {
	line, err := c.readLine(budget)
	if err != nil {
		return h, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, true, fmt.Errorf("%w: bad status line", ErrMalformedResponse)
	}
	h.http10 = line[7] == '0'
	status, ok := parseStatus(line[9:12])
	if !ok {
		return h, true, fmt.Errorf("%w: bad status code", ErrMalformedResponse)
	}
	h.status, h.contentLength, h.keepAlive = status, -1, !h.http10
	for {
		line, err := c.readLine(budget)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, true, err
		}
		if len(line) == 0 {
			break
		}
		if err := h.field(line); err != nil {
			return h, true, err
		}
	}
	if h.chunked && h.contentLength >= 0 {
		// Both framings: the chunked one wins, and the connection is not reused
		// (RFC 9112, section 6.3).
		h.contentLength, h.keepAlive = -1, false
	}
	if h.chunked && h.http10 {
		h.keepAlive = false // HTTP/1.0 has no chunked coding: the framing is faulty (RFC 9112, section 6.1)
	}
	return h, true, nil
}

// field checks one header field line and takes from it what frames the answer.
func (h *head) field(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return fmt.Errorf("%w: bad header line", ErrMalformedResponse)
	}
	name, value := line[:colon], line[colon+1:]
	for _, b := range name {
		// Whitespace before the colon, an obsolete line folding or any other
		// character that is not a token's is refused (RFC 9112, section 5.1).
		if !isTokenChar(b) {
			return fmt.Errorf("%w: bad header field name", ErrMalformedResponse)
		}
	}
	for _, b := range value {
		if byteClass[b]&classFieldValue == 0 {
			return fmt.Errorf("%w: control character in a header field value", ErrMalformedResponse)
		}
	}
	value = bytes.TrimSpace(value)
	switch {
	case asciiEqualFold(name, "Content-Length"):
		n, err := parseLength(value)
		if err != nil || (h.contentLength >= 0 && n != h.contentLength) {
			return fmt.Errorf("%w: bad Content-Length", ErrMalformedResponse)
		}
		h.contentLength = n
	case asciiEqualFold(name, "Transfer-Encoding"):
		if !asciiEqualFold(value, "chunked") || h.chunked {
			return fmt.Errorf("%w: unsupported Transfer-Encoding", ErrMalformedResponse)
		}
		h.chunked = true
	case asciiEqualFold(name, "Connection"):
		if containsToken(value, "close") {
			h.keepAlive = false
		} else if containsToken(value, "keep-alive") {
			h.keepAlive = true
		}
	}
	return nil
}

// readBody reads the body h frames into resp.
func (t *Client) readBody(br *bufio.Reader, isHead bool, h head, resp *Response) error {
	resp.Status = h.status
	switch {
	case isHead || h.status == 204 || h.status == 304:
		return nil
	case h.chunked:
		return t.readChunked(br, resp)
	case h.contentLength >= 0:
		if h.contentLength > int64(t.maxBody-len(resp.Body)) {
			return ErrResponseTooLarge
		}
		n := int(h.contentLength)
		resp.Body = grow(resp.Body, n)
		body := resp.Body[len(resp.Body) : len(resp.Body)+n]
		if _, err := io.ReadFull(br, body); err != nil {
			return err
		}
		resp.Body = resp.Body[:len(resp.Body)+n]
		return nil
	default:
		// No length: the body runs to the end of the connection.
		return t.readToEOF(br, resp)
	}
}

// maxChunkLine bounds a chunk's size line, extensions included.
const maxChunkLine = 4 << 10

func (t *Client) readChunked(br *bufio.Reader, resp *Response) error {
	for {
		budget := maxChunkLine
		line, err := readLine(br, &budget)
		if err != nil {
			return noEOF(err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
		if err != nil {
			return fmt.Errorf("%w: bad chunk size", ErrMalformedResponse)
		}
		if size == 0 {
			return t.readTrailer(br)
		}
		n := int(size)
		if len(resp.Body)+n > t.maxBody {
			return ErrResponseTooLarge
		}
		resp.Body = grow(resp.Body, n)
		if _, err := io.ReadFull(br, resp.Body[len(resp.Body):len(resp.Body)+n]); err != nil {
			return noEOF(err)
		}
		resp.Body = resp.Body[:len(resp.Body)+n]
		budget = 2
		line, err = readLine(br, &budget)
		if err != nil {
			return noEOF(err)
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", ErrMalformedResponse)
		}
	}
}

// readTrailer reads the trailer fields after the last chunk, bounded as a head is,
// and ignores them.
func (t *Client) readTrailer(br *bufio.Reader) error {
	budget := t.maxHead
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return noEOF(err)
		}
		if len(line) == 0 {
			return nil
		}
		var h head
		if err := h.field(line); err != nil {
			return err
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (t *Client) readToEOF(br *bufio.Reader, resp *Response) error {
	for {
		resp.Body = grow(resp.Body, 4096)
		n, err := br.Read(resp.Body[len(resp.Body):cap(resp.Body)])
		resp.Body = resp.Body[:len(resp.Body)+n]
		if len(resp.Body) > t.maxBody {
			return ErrResponseTooLarge
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readLine reads c's next line of a head, spending budget on it; a line longer than
// the reader's buffer is gathered in c's scratch space.
func (c *conn) readLine(budget *int) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == nil || err != bufio.ErrBufferFull {
		return endLine(line, err, budget)
	}
	c.long = append(c.long[:0], line...)
	for {
		if len(c.long) > *budget {
			return nil, fmt.Errorf("%w: head of the answer too large", ErrMalformedResponse)
		}
		line, err = c.br.ReadSlice('\n')
		c.long = append(c.long, line...)
		if err != bufio.ErrBufferFull {
			line, err := endLine(c.long, err, budget)
			if cap(c.long) > 8<<10 {
				c.long = nil // the line is read; an idle connection keeps no more than its buffers
			}
			return line, err
		}
	}
}

// readLine returns the next line of br without its CRLF, spending budget on it. The
// slice is valid until the next read from br. A line longer than the budget or the
// reader's buffer is refused.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line too long", ErrMalformedResponse)
	}
	return endLine(line, err, budget)
}

func endLine(line []byte, err error, budget *int) ([]byte, error) {
	if len(line) > *budget {
		return nil, fmt.Errorf("%w: head of the answer too large", ErrMalformedResponse)
	}
	*budget -= len(line)
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(2*cap(b), len(b)+n))
	copy(nb, b)
	return nb
}

// parseStatus parses a three-digit status code from 100 to 599.
func parseStatus(b []byte) (int, bool) {
	if b[0] < '1' || b[0] > '5' || b[1] < '0' || b[1] > '9' || b[2] < '0' || b[2] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0'), true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// containsToken reports whether the comma-separated header value holds token.
func containsToken(value []byte, token string) bool {
	for len(value) > 0 {
		var part []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			part, value = value[:i], value[i+1:]
		} else {
			part, value = value, nil
		}
		if asciiEqualFold(bytes.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

// parseLength parses a Content-Length value: digits only (no sign, no space).
func parseLength(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 18 {
		return 0, ErrMalformedResponse
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrMalformedResponse
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

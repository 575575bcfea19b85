package cluster

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// A minimal WebSocket (RFC 6455) client and framing, enough to open a
// connection through Caddy, echo a message and read the close frame
// gameauth sends when the right to the connection ends.

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA

	maxFramePayload = 1 << 20
	wsGUID          = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

type frame struct {
	fin     bool
	op      byte
	masked  bool
	payload []byte // unmasked
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// readFrame reads one frame and unmasks its payload.
func readFrame(r *bufio.Reader) (frame, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: hdr[0]&0x80 != 0, op: hdr[0] & 0x0F, masked: hdr[1]&0x80 != 0}
	if hdr[0]&0x70 != 0 {
		return f, errors.New("websocket: reserved bits set")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > maxFramePayload {
		return f, fmt.Errorf("websocket: frame of %d bytes", n)
	}
	var key [4]byte
	if f.masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if got, err := io.ReadFull(r, f.payload); err != nil {
		return f, fmt.Errorf("a frame (opcode %d) of %d bytes cut after %d, ending % x: %w", f.op, n, got, f.payload[max(0, got-24):got], err)
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// frameHeader returns the header of a final frame of n bytes, without the
// masking key.
func frameHeader(op byte, n int, mask bool) []byte {
	b := []byte{0x80 | op}
	mbit := byte(0)
	if mask {
		mbit = 0x80
	}
	switch {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n <= 0xFFFF:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return b
}

// writeFrame writes one final frame, masked with a random key if mask (as
// a client must).
func writeFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	b := frameHeader(op, len(payload), mask)
	p := payload
	if mask {
		var key [4]byte
		_, _ = rand.Read(key[:])
		b = append(b, key[:]...)
		p = make([]byte, len(payload))
		for i := range payload {
			p[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(b, p...))
	return err
}

// wsClient is a client WebSocket connection.
type wsClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader

	wmu    sync.Mutex // writes, when flood runs
	frames int        // whole messages readClose skipped
	size   int        // of the messages the server streams (push); 0: any
}

// write sends one masked frame.
func (c *wsClient) write(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeFrame(c.conn, op, payload, true)
}

// push asks the upstream to stream text messages of size bytes, each one
// byte repeated, pause apart; readClose then checks that every message
// before the close frame is whole.
func (c *wsClient) push(size int, pause time.Duration) {
	c.t.Helper()
	c.size = size
	if err := c.write(opText, fmt.Appendf(nil, "push %d %d", size, pause.Milliseconds())); err != nil {
		c.t.Fatalf("WebSocket write: %v", err)
	}
}

// flood sends messages of size bytes to the server as fast as the
// connection takes them, until the returned stop is called or a write
// fails.
func (c *wsClient) flood(size int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		msg := bytes.Repeat([]byte{'f'}, size)
		for {
			select {
			case <-done:
				return
			default:
			}
			if c.write(opBinary, msg) != nil {
				return
			}
		}
	}()
	return func() {
		close(done)
		_ = c.conn.SetWriteDeadline(time.Now())
		wg.Wait()
	}
}

// dialWebSocket opens a WebSocket to base+path with token tok. It returns
// the client when the server answered 101 with the right
// Sec-WebSocket-Accept, or the answer (and a nil client) otherwise.
func dialWebSocket(t *testing.T, base, path, tok string) (*wsClient, *http.Response) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", host, err)
	}
	t.Cleanup(func() { conn.Close() })
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Authorization: Bearer " + tok + "\r\n\r\n"
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("writing the upgrade request: %v", err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		conn.Close()
		return nil, resp
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(key) {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, wsAccept(key))
	}
	return &wsClient{t: t, conn: conn, r: r}, resp
}

// mustDial is dialWebSocket that fails the test unless the upgrade
// succeeds.
func mustDial(t *testing.T, base, path, tok string) *wsClient {
	t.Helper()
	c, resp := dialWebSocket(t, base, path, tok)
	if c == nil {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("WebSocket upgrade through %s: %d %q (WWW-Authenticate %q), want 101",
			base, resp.StatusCode, b, resp.Header.Get("WWW-Authenticate"))
	}
	return c
}

// echo sends msg as a masked text frame and waits for it to come back.
func (c *wsClient) echo(msg string) {
	c.t.Helper()
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.conn.SetDeadline(time.Time{}) }()
	if err := c.write(opText, []byte(msg)); err != nil {
		c.t.Fatalf("WebSocket write: %v", err)
	}
	f, err := readFrame(c.r)
	switch {
	case err != nil:
		c.t.Fatalf("WebSocket echo: %v", err)
	case f.masked:
		c.t.Fatalf("WebSocket echo: a masked frame from the server")
	case f.op != opText || string(f.payload) != msg:
		c.t.Fatalf("WebSocket echo: opcode %d %q, want text %q", f.op, f.payload, msg)
	}
}

// closeFrame is what the client received at the end of a connection.
type closeFrame struct {
	code   int
	reason string
	at     time.Time
}

// awaitClose reads until a close frame arrives, for at most bound. It
// fails the test if the connection ends (or bound passes) without one,
// or if the server does not end the connection (within bound) after it.
func (c *wsClient) awaitClose(bound time.Duration) closeFrame {
	c.t.Helper()
	cf, err := c.readClose(bound)
	if err != nil {
		c.t.Fatal(err)
	}
	return cf
}

// readClose is awaitClose for any goroutine: it returns what went wrong.
// It answers the close, as a client should, then waits for the server to
// end the connection.
func (c *wsClient) readClose(bound time.Duration) (closeFrame, error) {
	start := time.Now()
	_ = c.conn.SetReadDeadline(start.Add(bound))
	for {
		f, err := readFrame(c.r)
		if err != nil {
			return closeFrame{}, fmt.Errorf("WebSocket ended without a close frame after %d whole messages (at %s, after waiting %s at most %s): %v",
				c.frames, time.Now().Format("15:04:05.000"), time.Since(start).Round(time.Millisecond), bound, err)
		}
		if f.masked {
			return closeFrame{}, errors.New("WebSocket: a masked frame from the server")
		}
		if f.op != opClose {
			// A message: whole, if pushed.
			if c.size > 0 && (f.op != opText || !f.fin || len(f.payload) != c.size ||
				len(bytes.Trim(f.payload, string(f.payload[:1]))) != 0) {
				return closeFrame{}, fmt.Errorf("WebSocket: a torn echo before the close frame: opcode %d fin %v, %d bytes", f.op, f.fin, len(f.payload))
			}
			c.frames++
			continue
		}
		cf := closeFrame{at: time.Now()}
		if len(f.payload) >= 2 {
			cf.code = int(binary.BigEndian.Uint16(f.payload))
			cf.reason = string(f.payload[2:])
		}
		_ = c.write(opClose, f.payload[:min(2, len(f.payload))])
		_ = c.conn.SetReadDeadline(time.Now().Add(bound))
		for {
			if _, err := readFrame(c.r); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return cf, fmt.Errorf("WebSocket: the server did not end the connection within %s of its close frame", bound)
				}
				return cf, nil
			}
		}
	}
}

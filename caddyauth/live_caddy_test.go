package caddyauth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// The live sessions through a real Caddy: a probe handler tracks each
// request in the registry a test sets, and Caddy's reverse_proxy carries
// it to an upstream written here (a minimal WebSocket server, an event
// stream). The clients are raw TCP.

func init() {
	caddy.RegisterModule(liveProbe{})
}

// liveProbeRegistry is the registry the probe tracks requests in.
var liveProbeRegistry atomic.Pointer[liveRegistry]

// liveProbe tracks each request as the gameauth handler does, for the
// subject in the X-Probe-Sub header, with a token valid for an hour.
type liveProbe struct{}

// CaddyModule returns the Caddy module information.
func (liveProbe) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.livetest_probe", New: func() caddy.Module { return new(liveProbe) }}
}

// ServeHTTP tracks the request and calls next.
func (liveProbe) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	info := sessionInfo{Provider: "test", Subject: r.Header.Get("X-Probe-Sub"), Expires: time.Now().Add(time.Hour)}
	w, r, done, err := liveProbeRegistry.Load().track(w, r, info)
	if err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	defer done()
	return next.ServeHTTP(w, r)
}

// wsUpstream is a minimal WebSocket server: it answers the handshake and
// then hands the connection to serve.
func wsUpstream(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
					fmt.Fprint(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
					wsAccept(req.Header.Get("Sec-WebSocket-Key")))
				serve(c, br)
			}()
		}
	}()
	return ln.Addr().String()
}

// wsAccept is the Sec-WebSocket-Accept of key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho answers each client frame with an unmasked frame of the same
// opcode and payload; on "half" it writes the first 100 bytes of a
// 300-byte frame, signals mid, waits for resume, then writes the rest and
// a frame "after" in one write.
func wsEcho(mid, resume chan struct{}) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, br *bufio.Reader) {
		for {
			op, payload, err := readWSFrame(br, true)
			if err != nil {
				return
			}
			if string(payload) == "half" {
				f := wsTestFrame(2, bytes.Repeat([]byte{'x'}, 300), nil, false)
				c.Write(f[:100])
				mid <- struct{}{}
				<-resume
				c.Write(append(f[100:], wsTestFrame(1, []byte("after"), nil, false)...))
				continue
			}
			if _, err := c.Write(wsTestFrame(op, payload, nil, false)); err != nil || op == wsOpClose {
				return
			}
		}
	}
}

// readWSFrame reads one frame, unmasking it; masked says whether it must
// be masked (client to server) or must not be (server to client).
func readWSFrame(br *bufio.Reader, masked bool) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if (h[1]&0x80 != 0) != masked {
		return 0, nil, fmt.Errorf("frame % x: mask bit wrong", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if err == nil && masked {
		_, err = io.ReadFull(br, key[:])
	}
	if err != nil || n > 1<<20 {
		return 0, nil, fmt.Errorf("frame header: %v (length %d)", err, n)
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return h[0] & 0x0f, payload, nil
}

// wsClient is a raw WebSocket client.
type wsClient struct {
	c  net.Conn
	br *bufio.Reader
}

// dialWS opens a WebSocket to base as subject; it returns the response
// status when it is not 101.
func dialWS(t *testing.T, addr, sub string) (*wsClient, int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nX-Probe-Sub: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(key), sub)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, resp.StatusCode
	}
	return &wsClient{c, br}, resp.StatusCode
}

// send writes a masked text frame.
func (w *wsClient) send(t *testing.T, msg string) {
	t.Helper()
	if _, err := w.c.Write(wsTestFrame(1, []byte(msg), []byte{9, 8, 7, 6}, false)); err != nil {
		t.Fatal(err)
	}
}

// expect reads one frame and checks it is msg.
func (w *wsClient) expect(t *testing.T, msg string) {
	t.Helper()
	if _, p, err := readWSFrame(w.br, false); err != nil || string(p) != msg {
		t.Fatalf("read %q, %v; want %q", p, err, msg)
	}
}

// expectClose reads frames, all of them well formed, until a close frame,
// which must say 1008 and reason, and then EOF; it returns the payloads
// of the data frames before it.
func (w *wsClient) expectClose(t *testing.T, reason string) []string {
	t.Helper()
	var data []string
	for {
		op, p, err := readWSFrame(w.br, false)
		if err != nil {
			t.Fatalf("before the close frame: %v", err)
		}
		if op != wsOpClose {
			data = append(data, string(p))
			continue
		}
		if len(p) < 2 || binary.BigEndian.Uint16(p) != 1008 || string(p[2:]) != reason {
			t.Fatalf("close frame payload %q, want 1008 %q", p, reason)
		}
		break
	}
	if b, err := w.br.ReadByte(); err == nil {
		t.Fatalf("byte %#x after the close frame", b)
	}
	return data
}

// startLiveCaddy runs Caddy with the probe and reverse_proxy to wsAddr
// (and /sse to sseAddr), tracking in l, and returns its address.
func startLiveCaddy(t *testing.T, l *liveRegistry, wsAddr, sseAddr string) string {
	t.Helper()
	liveProbeRegistry.Store(l)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	route := func(dial string) string {
		return fmt.Sprintf(`"handle":[{"handler":"livetest_probe"},{"handler":"reverse_proxy","upstreams":[{"dial":%q}]}]`, dial)
	}
	cfg := fmt.Sprintf(`{"admin":{"disabled":true,"config":{"persist":false}},"logging":{"logs":{"default":{"level":"ERROR"}}},
		"apps":{"http":{"servers":{"live":{"listen":[%q],"automatic_https":{"disable":true},"routes":[
			{"match":[{"path":["/sse"]}],%s},{%s}]}}}}}`, addr, route(sseAddr), route(wsAddr))
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	return addr
}

// wsFlood sends masked binary frames of size bytes on c until stop is
// called or a write fails; failed then receives when. stop cuts a write in
// progress short and waits for the goroutine to end.
func wsFlood(c net.Conn, size int) (failed <-chan time.Time, stop func()) {
	frame := wsTestFrame(2, bytes.Repeat([]byte{'f'}, size), []byte{1, 2, 3, 4}, false)
	quit, fail, done := make(chan struct{}), make(chan time.Time, 1), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if _, err := c.Write(frame); err != nil {
				fail <- time.Now()
				return
			}
		}
	}()
	return fail, func() {
		close(quit)
		_ = c.SetWriteDeadline(time.Now())
		<-done
	}
}

// closedBy waits until a write on c fails, writing a masked ping every
// 10 ms (after the peer closes, a write brings a reset, which fails a
// later one), for at most bound; it returns when it failed, or the zero
// time.
func closedBy(c net.Conn, bound time.Duration) time.Time {
	ping := wsTestFrame(9, nil, []byte{1, 2, 3, 4}, false)
	_ = c.SetWriteDeadline(time.Now().Add(bound))
	defer c.SetWriteDeadline(time.Time{})
	for end := time.Now().Add(bound); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := c.Write(ping); err != nil {
			return time.Now()
		}
	}
	return time.Time{}
}

// TestLiveCaddyLinger: after its close frame, a hijacked connection is
// half-closed and lingers: the client reads the frames queued before the
// close frame, the close frame and EOF even when it was sending all along
// (closing a socket with unread input would reset it, dropping them), and
// the connection is closed when the client's close frame comes, or at the
// linger bound, however much the client sends; the session (and the
// backend) end at once all the same.
func TestLiveCaddyLinger(t *testing.T) {
	// Each subtest tracks in a registry of its own, with its bounds.
	registry := func(linger time.Duration, limit int64) *liveRegistry {
		l, _ := testRegistry(t, 10)
		l.linger, l.lingerBytes = linger, limit
		liveProbeRegistry.Store(l)
		return l
	}
	wsAddr := wsUpstream(t, func(c net.Conn, br *bufio.Reader) {
		_, p, err := readWSFrame(br, true)
		if err != nil {
			return
		}
		if string(p) == "stream" {
			// Stream frames as fast as they go, and read no more: what the
			// client sends piles up in Caddy.
			f := wsTestFrame(2, bytes.Repeat([]byte{'s'}, 32<<10), nil, false)
			for {
				if _, err := c.Write(f); err != nil {
					return
				}
			}
		}
		c.Write(wsTestFrame(1, p, nil, false))
		wsEcho(nil, nil)(c, br)
	})
	addr := startLiveCaddy(t, registry(liveLinger, liveLingerBytes), wsAddr, wsAddr)

	t.Run("backlog", func(t *testing.T) {
		l := registry(5*time.Second, liveLingerBytes)
		c, _ := dialWS(t, addr, "b1")
		c.c.SetDeadline(time.Now().Add(20 * time.Second))
		c.send(t, "stream")
		failed, stop := wsFlood(c.c, 16<<10)
		time.Sleep(300 * time.Millisecond) // backlogs both ways
		l.recheck(banned("b1"))
		time.Sleep(300 * time.Millisecond) // the close waits for the client to read
		data := c.expectClose(t, verifiers.ReasonBanned)
		for i, d := range data {
			if len(d) != 32<<10 {
				t.Fatalf("frame %d of %d before the close: %d bytes", i, len(data), len(d))
			}
		}
		select {
		case at := <-failed:
			t.Fatalf("the client's sending failed at %s", at.Format("15:04:05.000"))
		default:
		}
		t.Logf("%d frames of 32 KiB before the close frame", len(data))
		stop()
	})

	t.Run("client close", func(t *testing.T) {
		l := registry(10*time.Second, liveLingerBytes)
		c, _ := dialWS(t, addr, "c1")
		c.send(t, "hi")
		c.expect(t, "hi")
		l.recheck(banned("c1"))
		c.expectClose(t, verifiers.ReasonBanned)
		waitFor(t, "session done", func() bool { return sessionOf(l, "c1") == nil })
		time.Sleep(100 * time.Millisecond)
		if at := closedBy(c.c, 300*time.Millisecond); !at.IsZero() {
			t.Fatal("connection closed before the client's close frame, or the linger bound")
		}
		sent := time.Now()
		if _, err := c.c.Write(wsTestFrame(wsOpClose, []byte{0x03, 0xf0}, []byte{5, 6, 7, 8}, false)); err != nil {
			t.Fatal(err)
		}
		at := closedBy(c.c, 5*time.Second)
		if at.IsZero() {
			t.Fatal("connection not closed within 5s of the client's close frame (linger bound 10s)")
		}
		t.Logf("closed %s after the client's close frame", at.Sub(sent).Round(time.Millisecond))
	})

	for _, tc := range []struct {
		name  string
		bytes int64
		flood int // frame size; 0: pings
	}{
		{"bound", liveLingerBytes, 0},
		{"bytes bound", 64 << 10, 16 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const linger = 700 * time.Millisecond
			l := registry(linger, tc.bytes)
			c, _ := dialWS(t, addr, "d1")
			c.send(t, "hi")
			c.expect(t, "hi")
			ended := time.Now()
			l.recheck(banned("d1"))
			c.expectClose(t, verifiers.ReasonBanned)
			var at time.Time
			if tc.flood > 0 {
				_ = c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				failed, stop := wsFlood(c.c, tc.flood)
				select {
				case at = <-failed:
				case <-time.After(10 * time.Second):
				}
				stop()
			} else {
				at = closedBy(c.c, 10*time.Second)
			}
			if d := at.Sub(ended); at.IsZero() || d < linger-100*time.Millisecond || d > linger+3*time.Second {
				t.Fatalf("closed %s after the end, want about the linger bound %s", d, linger)
			}
			t.Logf("closed %s after the end", at.Sub(ended).Round(time.Millisecond))
		})
	}
}

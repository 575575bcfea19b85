package caddyauth

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// wsTestFrame returns a frame of opcode op with payload, masked with key
// when key is not nil, with the shortest length encoding, or the 64-bit
// one when long.
func wsTestFrame(op byte, payload []byte, key []byte, long bool) []byte {
	b := []byte{0x80 | op}
	mask := byte(0)
	if key != nil {
		mask = 0x80
	}
	switch n := len(payload); {
	case long || n > 0xffff:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	case n > 125:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mask|byte(n))
	}
	if key != nil {
		b = append(b, key...)
		for i, c := range payload {
			b = append(b, c^key[i%4])
		}
		return b
	}
	return append(b, payload...)
}

// wsTestStream is a few frames of every header shape: 7-bit, 16-bit and
// 64-bit lengths, masked and not, empty payloads, a fragmented message.
func wsTestStream() []byte {
	key := []byte{0xa1, 0xb2, 0xc3, 0xd4}
	var s []byte
	s = append(s, wsTestFrame(1, []byte("hello"), nil, false)...)
	s = append(s, wsTestFrame(2, bytes.Repeat([]byte{7}, 300), key, false)...)
	s = append(s, wsTestFrame(9, nil, nil, false)...)
	s = append(s, wsTestFrame(2, bytes.Repeat([]byte{9}, 40), nil, true)...)
	s = append(s, 0x01, 3, 'a', 'b', 'c') // a fragment, not final
	s = append(s, wsTestFrame(10, nil, key, false)...)
	s = append(s, wsTestFrame(0, []byte("def"), nil, false)...)
	return s
}

// TestWSTrackerEverySplit: cut in two (and in three around the short
// frames) at every byte, the tracker finds the boundaries the reference
// parser finds.
func TestWSTrackerEverySplit(t *testing.T) {
	s := wsTestStream()
	for i := 0; i <= len(s); i++ {
		checkTracker(t, s, []byte{byte(min(i, 255)), 255, 255})
		for j := 1; j < 12 && i+j <= len(s) && i < 255; j++ {
			checkTracker(t, s, []byte{byte(i), byte(j), 255, 255})
		}
	}
	var tr wsTracker
	for i := range s {
		tr.feed(s[i:i+1], false)
	}
	if !tr.boundary() || tr.sawClose {
		t.Fatalf("byte by byte: boundary %v, sawClose %v", tr.boundary(), tr.sawClose)
	}
}

// TestWSTrackerLargeFrames: a 70,000-byte frame (64-bit length) and a
// 65,535-byte one (16-bit), fed in uneven pieces.
func TestWSTrackerLargeFrames(t *testing.T) {
	s := wsTestFrame(2, make([]byte, 70000), nil, false)
	s = append(s, wsTestFrame(2, make([]byte, 65535), []byte{1, 2, 3, 4}, false)...)
	for _, cut := range []byte{1, 3, 9, 200} {
		checkTracker(t, s, bytes.Repeat([]byte{cut}, 2000))
	}
}

// TestWSTrackerBroken: a 64-bit length with the top bit set stops the
// tracking for good.
func TestWSTrackerBroken(t *testing.T) {
	var tr wsTracker
	tr.feed([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, false)
	if tr.state != wsBroken {
		t.Fatalf("state %d, want broken", tr.state)
	}
	tr.feed(wsTestFrame(1, []byte("x"), nil, false), false)
	if tr.boundary() {
		t.Fatal("a broken tracker found a boundary")
	}
}

// TestWSTrackerHead: an HTTP response head written on the hijacked
// connection (as httputil.ReverseProxy does) is skipped, in any pieces.
func TestWSTrackerHead(t *testing.T) {
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\r\n\r\n"
	s := append([]byte(head), wsTestFrame(1, []byte("hi"), nil, false)...)
	for i := 0; i <= len(s); i++ {
		tr := wsTracker{state: wsHead}
		tr.feed(s[:i], false)
		tr.feed(s[i:], false)
		if !tr.boundary() {
			t.Fatalf("split at %d: not at a boundary after the frame", i)
		}
	}
	tr := wsTracker{state: wsHead}
	if k := tr.feed(s, true); k != len(head) {
		t.Fatalf("stop after the head: %d, want %d", k, len(head))
	}
}

// TestWSTrackerSawClose: a close frame from the upstream is noticed.
func TestWSTrackerSawClose(t *testing.T) {
	var tr wsTracker
	tr.feed(wsTestFrame(8, []byte{3, 232}, nil, false), false)
	if !tr.sawClose {
		t.Fatal("close frame not noticed")
	}
}

// TestAppendCloseFrame: status 1008, the reason, cut at a character
// boundary to fit a control frame.
func TestAppendCloseFrame(t *testing.T) {
	f := appendCloseFrame(nil, "banned")
	if want := append([]byte{0x88, 8, 0x03, 0xf0}, "banned"...); !bytes.Equal(f, want) {
		t.Fatalf("close frame % x, want % x", f, want)
	}
	long := strings.Repeat("é", 100) // 200 bytes
	f = appendCloseFrame(nil, long)
	if n := int(f[1]); n > 125 || n != len(f)-2 || !utf8.Valid(f[4:]) || len(f[4:]) != 122 {
		t.Fatalf("long reason: length %d, frame %d bytes, reason %d bytes valid %v", n, len(f), len(f[4:]), utf8.Valid(f[4:]))
	}
	if f = appendCloseFrame(nil, "\xff"); len(f) != 4 {
		t.Fatalf("invalid UTF-8 reason kept: % x", f)
	}
}

// fakeH2Writer records what an extended CONNECT stream writes.
type fakeH2Writer struct {
	mu      sync.Mutex
	hdr     http.Header
	code    int
	buf     bytes.Buffer
	flushed int // bytes of buf flushed
}

// Header, WriteHeader, Write and Flush record what they are given.
func (f *fakeH2Writer) Header() http.Header { return f.hdr }
func (f *fakeH2Writer) WriteHeader(c int)   { f.mu.Lock(); f.code = c; f.mu.Unlock() }
func (f *fakeH2Writer) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}
func (f *fakeH2Writer) Flush() { f.mu.Lock(); f.flushed = f.buf.Len(); f.mu.Unlock() }

// snapshot returns the bytes written and how many of them were flushed.
func (f *fakeH2Writer) snapshot() ([]byte, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.buf.Bytes()), f.flushed
}

// TestLiveH2WritePath: over an extended CONNECT (no hijack), a close
// requested mid-frame is written through the writer after that frame
// completes, then flushed, the request's context is cancelled, and the
// rest of the write and later writes are dropped. (The ResponseWriter is a
// fake: a real HTTP/2 server enables extended CONNECT only with a GODEBUG
// set at process start.)
func TestLiveH2WritePath(t *testing.T) {
	l, _ := testRegistry(t, 4)
	fw := &fakeH2Writer{hdr: http.Header{}}
	r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
	r.ProtoMajor, r.ProtoMinor = 2, 0
	r.Header.Set(":protocol", "websocket")
	w, r2, done, err := l.track(fw, r, sessionInfo{Provider: "p", Subject: "s", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	w.WriteHeader(http.StatusOK)
	frame := wsTestFrame(2, bytes.Repeat([]byte{5}, 300), nil, false)
	if _, err := w.Write(frame[:100]); err != nil {
		t.Fatal(err)
	}
	l.recheck(func(string, string, time.Time) (string, bool) { return "banned", true })
	waitFor(t, "close pending", func() bool {
		s := onlySession(l).stream
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending
	})
	rest := append(bytes.Clone(frame[100:]), wsTestFrame(1, []byte("dropped"), nil, false)...)
	if n, err := w.Write(rest); err == nil || n != len(frame)-100 {
		t.Fatalf("write completing the frame: %d, %v; want %d and an error", n, err, len(frame)-100)
	}
	got, flushed := fw.snapshot()
	want := append(bytes.Clone(frame), appendCloseFrame(nil, "banned")...)
	if !bytes.Equal(got, want) || flushed != len(want) {
		t.Fatalf("client got %d bytes (%d flushed), want the frame then the close frame (%d)", len(got), flushed, len(want))
	}
	select {
	case <-r2.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("request context not cancelled")
	}
	if _, err := w.Write([]byte{0x81, 0}); err == nil {
		t.Fatal("write after the close accepted")
	}
	done()
	done()
	if l.len() != 0 {
		t.Fatalf("len %d after done", l.len())
	}
}

// h2Session tracks a fake extended CONNECT and returns its writer, the
// request next gets and done.
func h2Session(t *testing.T, l *liveRegistry) (*fakeH2Writer, http.ResponseWriter, *http.Request, func()) {
	t.Helper()
	fw := &fakeH2Writer{hdr: http.Header{}}
	r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
	r.ProtoMajor, r.ProtoMinor = 2, 0
	r.Header.Set(":protocol", "websocket")
	w, r2, done, err := l.track(fw, r, sessionInfo{Provider: "p", Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(done)
	w.WriteHeader(http.StatusOK)
	return fw, w, r2, done
}

// TestLiveCloseWithoutFrame: the stream is ended without a close frame
// (the request cancelled) when the frame in progress never completes (the
// fallback timer), when the stream cannot be followed, and when the
// upstream sent its own close frame already.
func TestLiveCloseWithoutFrame(t *testing.T) {
	for name, written := range map[string][]byte{
		"frame never completes": wsTestFrame(2, make([]byte, 50), nil, false)[:20],
		"untrackable":           {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3},
		"upstream closed":       wsTestFrame(8, []byte{3, 232}, nil, false),
	} {
		t.Run(name, func(t *testing.T) {
			l, _ := testRegistry(t, 4)
			l.fallback = 50 * time.Millisecond
			fw, w, r, _ := h2Session(t, l)
			if _, err := w.Write(written); err != nil {
				t.Fatal(err)
			}
			l.recheck(func(string, string, time.Time) (string, bool) { return "banned", true })
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
				t.Fatal("request context not cancelled")
			}
			if got, _ := fw.snapshot(); !bytes.Equal(got, written) {
				t.Fatalf("client got % x, want only % x", got, written)
			}
		})
	}
}

// fakeHijacker is a ResponseWriter whose Hijack returns conn.
type fakeHijacker struct {
	*httptest.ResponseRecorder
	conn net.Conn
}

// Hijack returns the connection with a buffered reader and writer on it.
func (f *fakeHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return f.conn, bufio.NewReadWriter(bufio.NewReader(f.conn), bufio.NewWriter(f.conn)), nil
}

// TestLiveRawUpgradeEnd: an upgrade to another protocol than WebSocket is
// ended by closing the hijacked connection, with nothing written, at once
// even while a write to a client that does not read holds the stream; an
// end before the hijack closes the connection hijacked after it.
func TestLiveRawUpgradeEnd(t *testing.T) {
	l, _ := testRegistry(t, 4)
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	w, r, done, err := l.track(&fakeHijacker{httptest.NewRecorder(), server}, liveRequest("upgrade"), sessionInfo{Provider: "p", Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	w.WriteHeader(http.StatusSwitchingProtocols)
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Fatal(err)
	}
	// A frame-like write passes as it is: nothing follows the bytes.
	go func() { _, _ = c.Write([]byte{0x88, 2, 3, 232, 'x'}) }()
	got := make([]byte, 5)
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, []byte{0x88, 2, 3, 232, 'x'}) {
		t.Fatalf("client read % x, %v", got, err)
	}
	// A write the client does not read blocks, holding the stream.
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 1000)); wrote <- err }()
	time.Sleep(20 * time.Millisecond)
	l.recheck(func(string, string, time.Time) (string, bool) { return "banned", true })
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("the blocked write succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked write was not ended")
	}
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("request context not cancelled")
	}
	if n, err := client.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("client read %d bytes, %v after the end; want EOF", n, err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from the ended connection succeeded")
	}
	done()

	// Ended before the hijack.
	server2, client2 := net.Pipe()
	t.Cleanup(func() { client2.Close() })
	w, _, done2, err := l.track(&fakeHijacker{httptest.NewRecorder(), server2}, liveRequest("upgrade"), sessionInfo{Provider: "p", Subject: "s2"})
	if err != nil {
		t.Fatal(err)
	}
	defer done2()
	l.recheck(func(_, sub string, _ time.Time) (string, bool) { return "banned", sub == "s2" })
	waitFor(t, "stream finished", func() bool { return sessionOf(l, "s2").stream.finished.Load() })
	w.WriteHeader(http.StatusSwitchingProtocols)
	if c, _, err = http.NewResponseController(w).Hijack(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("write after the end succeeded")
	}
	if n, err := client2.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("client read %d bytes, %v; want EOF", n, err)
	}
}

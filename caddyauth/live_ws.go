package caddyauth

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The server→client side of a tracked WebSocket: every byte written to the
// client goes through a liveStream, which follows the frame boundaries so
// that a close frame is never written in the middle of a frame. Over
// HTTP/1.1 the client→server side goes through its liveConn too, which
// follows the client's frames, so that after our close frame the
// connection can linger until the client's (see liveLinger).
//
// An upgrade to another protocol (raw) goes through the same liveStream
// and liveConn, but nothing follows its bytes, whose framing is unknown:
// its end closes the connection at once, with nothing written.

// Where a liveStream's frames go.
const (
	streamIdle   = iota // not upgraded (yet): writes are an HTTP response
	streamConn          // HTTP/1.1: the hijacked connection
	streamWriter        // extended CONNECT: the ResponseWriter, flushed
)

// liveStream is the client side of one tracked WebSocket.
type liveStream struct {
	reg    *liveRegistry
	cancel context.CancelFunc // cancels the context next was given
	h2     bool               // extended CONNECT (HTTP/2, HTTP/3)
	raw    bool               // an upgrade to another protocol: no frames

	mu      sync.Mutex // serializes writes to the client and the close
	tr      wsTracker
	mode    int
	saw101  bool                // WriteHeader(101) went through before the hijack
	conn    net.Conn            // streamConn: the hijacked connection
	rw      http.ResponseWriter // streamWriter: the inner writer
	pending bool                // a close waits for the frame in progress
	reason  string              // its reason

	hijacked atomic.Pointer[liveConn]
	finished atomic.Bool // closed (or aborted): no more writes
	released atomic.Bool // done: the handler returned

	tmu      sync.Mutex // fallback
	fallback liveTimer
}

// end closes the stream with reason: at a frame boundary, the close frame
// now; in the middle of a frame, after the write that completes it, or
// without a frame when the fallback timer fires first. Before the
// upgrade, or when the stream cannot be followed, it only cancels the
// request (and closes the connection).
//
// A raw stream is finished at once, without mu: closing the connection
// ends a write to it in progress, which holds mu while the client does
// not read.
func (s *liveStream) end(reason string) {
	if s.raw {
		if !s.released.Load() {
			s.finish(false)
		}
		return
	}
	s.tmu.Lock()
	if s.released.Load() {
		s.tmu.Unlock()
		return
	}
	s.fallback = s.reg.afterFunc(s.reg.fallback, s.abort)
	s.tmu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.finished.Load() || s.released.Load():
		s.stopFallback()
	case s.mode == streamIdle || s.tr.state == wsBroken:
		s.finish(false)
	case s.tr.boundary():
		s.finishLocked(reason)
	default:
		s.pending, s.reason = true, reason
	}
}

// out writes p to the client, bypassing the tracker. Under mu.
func (s *liveStream) out(p []byte) (int, error) {
	if s.mode == streamConn {
		return s.conn.Write(p)
	}
	return s.rw.Write(p)
}

// writeLocked writes frame bytes to the client, following them; when a
// close is pending it writes only up to the end of the frame in progress,
// then the close frame, and drops the rest. Under mu.
func (s *liveStream) writeLocked(p []byte) (int, error) {
	if s.finished.Load() || s.released.Load() {
		return 0, net.ErrClosed
	}
	if !s.pending {
		n, err := s.out(p)
		if !s.raw {
			s.tr.feed(p[:n], false)
		}
		return n, err
	}
	k := s.tr.feed(p, true)
	if s.tr.state == wsBroken {
		s.finish(false)
		return 0, net.ErrClosed
	}
	n, err := s.out(p[:k])
	if err == nil && n < k {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.finish(false)
		return n, err
	}
	if s.tr.boundary() {
		s.finishLocked(s.reason)
	}
	if k < len(p) {
		return k, net.ErrClosed
	}
	return k, nil
}

// finishLocked writes the close frame, unless the upstream sent one
// already, and finishes. At a frame boundary, under mu.
func (s *liveStream) finishLocked(reason string) {
	sent := s.tr.sawClose
	if !sent && !s.released.Load() {
		var buf [wsMaxCloseFrame]byte
		_, err := s.out(appendCloseFrame(buf[:0], reason))
		sent = err == nil
		if sent && s.mode == streamWriter {
			_ = http.NewResponseController(s.rw).Flush()
		}
	}
	s.finish(sent)
}

// finish ends the stream without writing more and cancels the request
// (reverse_proxy then closes the backend connection). The hijacked
// connection, if any, lingers when a close frame went out (see liveLinger);
// otherwise it is closed at once. Once. Without a close frame it may run
// without mu (abort, a raw end): Hijack then closes a connection it
// hijacks meanwhile.
func (s *liveStream) finish(closeFrameSent bool) {
	if !s.finished.CompareAndSwap(false, true) {
		return
	}
	s.stopFallback()
	if c := s.hijacked.Load(); c != nil {
		if closeFrameSent {
			c.linger(s.reg.linger, s.reg.lingerBytes)
		} else {
			_ = c.Conn.Close()
		}
	}
	s.cancel()
}

// abort is the fallback: the frame in progress did not complete in time.
func (s *liveStream) abort() {
	if !s.released.Load() {
		s.finish(false)
	}
}

// stopFallback stops the fallback timer, if armed.
func (s *liveStream) stopFallback() {
	s.tmu.Lock()
	if s.fallback != nil {
		s.fallback.Stop()
	}
	s.tmu.Unlock()
}

// release is called when the handler returned: from then on nothing
// writes through the ResponseWriter. It waits for a close frame being
// written through it.
func (s *liveStream) release() {
	s.tmu.Lock()
	s.released.Store(true)
	if s.fallback != nil {
		s.fallback.Stop()
	}
	s.tmu.Unlock()
	if s.h2 {
		s.mu.Lock()
		//lint:ignore SA2001 waiting out a write in progress is the point
		s.mu.Unlock()
	}
}

// liveWriter is the ResponseWriter next gets for a WebSocket: it routes
// the frames to the client through its liveStream, whether they are
// written to the hijacked connection (HTTP/1.1) or to the writer itself
// (extended CONNECT).
type liveWriter struct {
	*caddyhttp.ResponseWriterWrapper
	s *liveStream
}

// WriteHeader notes a 101 (the response head is then written before the
// hijack) or, for an extended CONNECT, a 200: the frames follow.
func (w *liveWriter) WriteHeader(code int) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case code == http.StatusSwitchingProtocols:
		s.saw101 = true
	case s.h2 && code == http.StatusOK && s.mode == streamIdle:
		s.mode, s.rw = streamWriter, w.ResponseWriter
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes frames through the stream once an extended CONNECT is
// established, and anything else as it is.
func (w *liveWriter) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode != streamWriter {
		return w.ResponseWriter.Write(p)
	}
	return s.writeLocked(p)
}

// FlushError flushes the inner writer, serialized with the stream's
// writes; http.ResponseController uses it.
func (w *liveWriter) FlushError() error {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == streamWriter && (s.finished.Load() || s.released.Load()) {
		return net.ErrClosed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *liveWriter) Flush() { _ = w.FlushError() }

// ReadFrom copies through Write for an extended CONNECT, so that no frame
// bypasses the stream.
func (w *liveWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.s.h2 {
		return w.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w}, r)
}

// Hijack hijacks the inner writer and returns the connection wrapped, and
// a bufio.ReadWriter whose writer writes through it too.
func (w *liveWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s := w.s
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || s.h2 {
		return c, brw, err
	}
	if brw != nil {
		if err := brw.Writer.Flush(); err != nil {
			_ = c.Close()
			return nil, nil, err
		}
	}
	lc := &liveConn{Conn: c, s: s}
	if brw != nil {
		// What the client sent after the request head and the server read
		// already: reverse_proxy passes it on without reading it from lc.
		if n := brw.Reader.Buffered(); n > 0 && !s.raw {
			b, _ := brw.Reader.Peek(n)
			lc.in.feed(b, false)
		}
		brw.Writer.Reset(lc)
	}
	s.mu.Lock()
	if !s.finished.Load() {
		if !s.saw101 && !s.raw {
			s.tr.state = wsHead
		}
		s.conn, s.mode = c, streamConn
		s.hijacked.Store(lc)
	}
	// Checked again after the Store: a finish without mu either sees the
	// connection or is seen here.
	ended := s.finished.Load()
	s.mu.Unlock()
	if ended {
		// Ended before or during the upgrade: no frame, no linger.
		_ = c.Close()
	}
	return lc, brw, nil
}

// liveConn is a hijacked client connection whose writes go through its
// liveStream. It has no ReadFrom, so that io.Copy writes through Write.
//
// Once a close frame went out it lingers (liveLinger): one goroutine,
// drain, half-closes it, reads and discards the client's input, then
// closes it. It is then the connection's only reader: Read, which the
// tunnel to the backend calls, returns net.ErrClosed from the end of the
// stream on, and drain cuts a Read in progress short with a read
// deadline, waits for it (rmu) and sets drained, after which Read reads
// no more. Close leaves a lingering connection to drain.
type liveConn struct {
	net.Conn
	s *liveStream

	rmu     sync.Mutex // held by Read while it reads Conn
	in      wsTracker  // the client's frames read so far; Read's under rmu, then drain's
	drained bool       // drain reads Conn from now on; under rmu

	cmu       sync.Mutex
	lingering bool // drain closes Conn
	closed    bool // Close closed Conn
}

// Read reads the client's frames for the tunnel, following them. Once the
// stream is finished it reads no more and returns net.ErrClosed, and what
// a read in progress then got is dropped (the backend is being closed):
// the tunnel ends, its copy to the backend included.
func (c *liveConn) Read(p []byte) (int, error) {
	if c.s.finished.Load() {
		return 0, net.ErrClosed
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.drained || c.s.finished.Load() {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(p)
	if !c.s.raw {
		c.in.feed(p[:n], false)
	}
	if c.s.finished.Load() {
		return 0, net.ErrClosed
	}
	return n, err
}

// Close closes the connection, unless it lingers: drain closes it then.
// reverse_proxy closes the client connection when the tunnel ends, which
// the end of the stream brings about at once.
func (c *liveConn) Close() error {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.lingering {
		return nil
	}
	c.closed = true
	return c.Conn.Close()
}

// SetDeadline sets the connection's deadlines, until the stream is
// finished: then drain's bounds the linger.
func (c *liveConn) SetDeadline(t time.Time) error {
	if c.s.finished.Load() {
		return net.ErrClosed
	}
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline is SetDeadline for reads.
func (c *liveConn) SetReadDeadline(t time.Time) error {
	if c.s.finished.Load() {
		return net.ErrClosed
	}
	return c.Conn.SetReadDeadline(t)
}

// linger starts drain, for at most d reading at most limit bytes, unless
// the connection was closed already.
func (c *liveConn) linger(d time.Duration, limit int64) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.closed || c.lingering {
		return
	}
	c.lingering = true
	go c.drain(time.Now().Add(d), limit)
}

// drain half-closes the connection, so that the client reads our close
// frame and then EOF, and reads and discards what the client sends until
// its close frame, its EOF, an error or the deadline; beyond limit bytes
// it reads no more and waits for the deadline. Then it closes the
// connection: with no input left unread, the kernel sends what it still
// holds for the client and a FIN rather than a reset.
func (c *liveConn) drain(deadline time.Time, limit int64) {
	defer c.Conn.Close()
	if closeWrite(c.Conn) != nil {
		return
	}
	// Cut short a Read in progress, then read in its place.
	_ = c.Conn.SetReadDeadline(time.Now())
	c.rmu.Lock()
	c.drained = true
	c.rmu.Unlock()
	if c.in.sawClose {
		return
	}
	buf := make([]byte, 8<<10)
	for read := int64(0); read < limit; {
		if c.Conn.SetReadDeadline(deadline) != nil {
			return
		}
		n, err := c.Conn.Read(buf[:min(int64(len(buf)), limit-read)])
		read += int64(n)
		c.in.feed(buf[:n], false)
		if err != nil || c.in.sawClose {
			return
		}
	}
	time.Sleep(time.Until(deadline))
}

// closeWriter is a connection whose writing side can be shut down.
type closeWriter interface{ CloseWrite() error }

// closeWrite shuts down the writing side of a hijacked connection: over
// TLS a close_notify alert, then, if it can, the connection under it;
// otherwise the first connection that can, unwrapping (NetConn) down.
func closeWrite(c net.Conn) error {
	notified := false // a TLS close_notify went out
	for range 8 {
		switch x := c.(type) {
		case *tls.Conn:
			if err := x.CloseWrite(); err != nil {
				return err
			}
			notified, c = true, x.NetConn()
		case closeWriter:
			if err := x.CloseWrite(); err != nil && !notified {
				return err
			}
			return nil
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			if notified {
				return nil
			}
			return errors.ErrUnsupported
		}
	}
	if notified {
		return nil
	}
	return errors.ErrUnsupported
}

// Write writes frames to the client through the stream.
func (c *liveConn) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.writeLocked(p)
}

// CloseWrite half-closes the connection (reverse_proxy does when the
// upstream is done sending). With a close pending, the frame in progress
// will never complete: the connection is closed without a close frame.
func (c *liveConn) CloseWrite() error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.finished.Load() {
		return net.ErrClosed
	}
	if c.s.pending {
		c.s.finish(false)
		return net.ErrClosed
	}
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return http.ErrNotSupported
}

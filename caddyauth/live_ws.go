package caddyauth

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

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

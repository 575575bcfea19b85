package caddyauth

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// The hijacked client connection of a tracked HTTP/1.1 upgrade (liveConn)
// and its lingering close after our close frame.

// A hijacked connection is not closed as soon as its close frame is
// written: closing a TCP socket with unread input makes the kernel answer
// with a reset, which discards what is still queued for the client (the
// frames before the close frame, and the close frame itself) when the
// client is behind in reading while it is still sending. As net/http does
// when it ends a connection early (closeWriteAndWait, after RFC 9112
// §9.6), the connection is half-closed instead (the client reads EOF after
// the close frame), and its input read and discarded until the client's
// close frame, its EOF, or liveLinger, whichever comes first; only then is
// it closed. The session, and the backend connection, end at once all the
// same: only the client's socket lingers, in one goroutine (liveConn.drain)
// that ends by liveLinger.
//
// liveLingerBytes bounds what is read: beyond it nothing more is read, and
// the connection is closed at liveLinger (the client, its sends blocked,
// can still read what we queued). It is about what a client that answers
// our close frame at once can have queued ahead of its own on Linux, where
// the socket buffers of both ends grow to several MiB (8 MB on loopback in
// internal/cluster's TestClusterWebSocketCloseUnderBacklog), with room to
// spare.
//
// Over TLS the half-close sends a close_notify alert, which crypto/tls
// allows 5 s to write: a client that neither reads nor lets it through
// holds the connection that long.
const (
	liveLinger      = 3 * time.Second
	liveLingerBytes = 16 << 20
)

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

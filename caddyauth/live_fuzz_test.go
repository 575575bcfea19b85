package caddyauth

import (
	"encoding/binary"
	"testing"
)

// refBoundaries is the reference parser the tracker is held to: it reads
// whole frames from the start of stream and returns the offsets at which
// one ends (0 included), and the offset after a header the tracker must
// give up on (a 64-bit length with the top bit set), or -1.
func refBoundaries(b []byte) (bounds map[int]bool, broken int) {
	bounds = map[int]bool{0: true}
	i := 0
	for len(b)-i >= 2 {
		b1 := b[i+1]
		n := uint64(b1 & 0x7f)
		hl := 2
		switch n {
		case 126:
			if len(b)-i < 4 {
				return bounds, -1
			}
			n, hl = uint64(binary.BigEndian.Uint16(b[i+2:])), 4
		case 127:
			if len(b)-i < 10 {
				return bounds, -1
			}
			n, hl = binary.BigEndian.Uint64(b[i+2:]), 10
			if n>>63 != 0 {
				return bounds, i + 10
			}
		}
		if b1&0x80 != 0 {
			hl += 4
		}
		if uint64(len(b)-i-hl) < n || len(b)-i < hl {
			return bounds, -1
		}
		i += hl + int(n)
		bounds[i] = true
	}
	return bounds, -1
}

// checkTracker feeds stream to a tracker in the pieces cuts gives (each
// byte a piece length, 0 read as 1) and checks it against refBoundaries
// after every piece, then feeds it again with stop and checks that it
// stops at every boundary, in order.
func checkTracker(t *testing.T, stream, cuts []byte) {
	t.Helper()
	bounds, broken := refBoundaries(stream)
	var tr wsTracker
	off := 0
	for ci := 0; off < len(stream); ci++ {
		n := len(stream) - off
		if ci < len(cuts) {
			n = min(n, max(int(cuts[ci]), 1))
		}
		if got := tr.feed(stream[off:off+n], false); got != n {
			t.Fatalf("feed consumed %d of %d", got, n)
		}
		off += n
		if broken >= 0 && off >= broken {
			if tr.state != wsBroken {
				t.Fatalf("at %d (broken from %d): state %d, want broken", off, broken, tr.state)
			}
			continue
		}
		if tr.boundary() != bounds[off] {
			t.Fatalf("at %d: boundary %v, reference %v", off, tr.boundary(), bounds[off])
		}
	}

	// With stop: every boundary is reached, in order.
	tr = wsTracker{}
	off = 0
	for off < len(stream) {
		k := tr.feed(stream[off:], true)
		if k <= 0 {
			t.Fatalf("feed with stop consumed %d at %d", k, off)
		}
		off += k
		if broken >= 0 && off >= broken {
			break
		}
		if tr.boundary() {
			if !bounds[off] {
				t.Fatalf("stopped at %d, not a boundary", off)
			}
			delete(bounds, off)
		} else if off != len(stream) {
			t.Fatalf("stopped at %d mid-frame before the end %d", off, len(stream))
		}
	}
	delete(bounds, 0)
	if broken < 0 {
		for b := range bounds {
			t.Fatalf("boundary %d not stopped at", b)
		}
	}
}

// FuzzWSFrameTracker: the tracker never panics, and says a boundary
// exactly where the reference parser finds one, however the stream is cut.
func FuzzWSFrameTracker(f *testing.F) {
	f.Add(wsTestStream(), []byte{1, 3, 7, 200})
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o', 0x89, 0}, []byte{1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 9, 9}, []byte{5})
	f.Add([]byte{0x82, 126, 0, 3, 1, 2, 3, 0x88, 2, 3, 232}, []byte{})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		if len(stream) > 1<<16 {
			return
		}
		checkTracker(t, stream, cuts)
	})
}

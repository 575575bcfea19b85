package caddyauth

import "unicode/utf8"

// WebSocket frames (RFC 6455 §5.2) as the live sessions see them: where
// they begin and end in the byte stream to the client, and the close
// frame that ends a session.

// States of wsTracker. wsHdr0, the zero value, is a frame boundary.
const (
	wsHdr0    = iota // before a frame's first byte: a boundary
	wsHdr1           // before the mask bit and 7-bit length
	wsExt            // in the 16- or 64-bit extended length
	wsMask           // in the masking key
	wsPayload        // in the payload
	wsHead           // in an HTTP response head written on the hijacked connection
	wsBroken         // a header it cannot make sense of: no more tracking
)

// wsOpClose is the opcode of a close frame.
const wsOpClose = 8

// wsMaxHead bounds the HTTP response head a hijacker may write before the
// frames (net/http/httputil writes the 101 response itself).
const wsMaxHead = 64 << 10

// wsTracker follows the frame boundaries of a WebSocket byte stream (RFC
// 6455 §5.2) fed to it in pieces of any size, without allocating.
type wsTracker struct {
	state    uint8
	opcode   uint8
	masked   bool
	sawClose bool   // a complete close frame went by
	extLeft  uint8  // extended length bytes still to read
	maskLeft uint8  // masking key bytes still to read
	crlf     uint8  // wsHead: how much of "\r\n\r\n" was just seen
	left     uint64 // payload bytes still to read; wsHead: head bytes seen
}

// boundary reports whether the bytes fed so far end at a frame boundary.
func (t *wsTracker) boundary() bool { return t.state == wsHdr0 }

// feed follows p. With stop, it stops at the first frame boundary it
// reaches after at least one byte and returns the bytes it consumed;
// otherwise it consumes all of p. A header it cannot follow (a 64-bit
// length with the top bit set, an endless response head) makes it broken:
// it then consumes everything and never reaches a boundary again.
func (t *wsTracker) feed(p []byte, stop bool) int {
	i := 0
	for i < len(p) {
		switch t.state {
		case wsBroken:
			return len(p)
		case wsHead:
			c := p[i]
			i++
			t.left++
			switch {
			case c == '\r' && t.crlf%2 == 0:
				t.crlf++
			case c == '\n' && t.crlf%2 == 1:
				t.crlf++
			case c == '\r':
				t.crlf = 1
			default:
				t.crlf = 0
			}
			if t.crlf == 4 {
				t.state, t.left = wsHdr0, 0
			} else if t.left > wsMaxHead {
				t.state = wsBroken
				return len(p)
			}
		case wsHdr0:
			t.opcode = p[i] & 0x0f
			t.state = wsHdr1
			i++
		case wsHdr1:
			b := p[i]
			i++
			t.masked = b&0x80 != 0
			switch n := b & 0x7f; n {
			case 126:
				t.state, t.extLeft, t.left = wsExt, 2, 0
			case 127:
				t.state, t.extLeft, t.left = wsExt, 8, 0
			default:
				t.left = uint64(n)
				t.afterLength()
			}
		case wsExt:
			t.left = t.left<<8 | uint64(p[i])
			i++
			t.extLeft--
			if t.extLeft == 0 {
				if t.left>>63 != 0 {
					t.state = wsBroken
					return len(p)
				}
				t.afterLength()
			}
		case wsMask:
			i++
			t.maskLeft--
			if t.maskLeft == 0 {
				t.afterMask()
			}
		case wsPayload:
			k := uint64(len(p) - i)
			if k > t.left {
				k = t.left
			}
			i += int(k)
			t.left -= k
			if t.left == 0 {
				t.endFrame()
			}
		}
		if stop && t.state == wsHdr0 {
			return i
		}
	}
	return i
}

// afterLength goes on once the payload length is known: to the masking
// key, if any, then the payload.
func (t *wsTracker) afterLength() {
	if t.masked {
		t.state, t.maskLeft = wsMask, 4
		return
	}
	t.afterMask()
}

// afterMask goes on to the payload, or ends an empty frame.
func (t *wsTracker) afterMask() {
	if t.left == 0 {
		t.endFrame()
		return
	}
	t.state = wsPayload
}

// endFrame ends the frame: the tracker is at a boundary.
func (t *wsTracker) endFrame() {
	if t.opcode == wsOpClose {
		t.sawClose = true
	}
	t.state = wsHdr0
}

// wsMaxCloseFrame is the size of the largest close frame: a 2-byte header
// and a payload of at most 125 bytes.
const wsMaxCloseFrame = 2 + 125

// appendCloseFrame appends an unmasked close frame (server to client) with
// status 1008 (policy violation) and reason, cut at a character boundary
// to the 123 bytes a control frame leaves it; a reason that is not UTF-8
// is left out.
func appendCloseFrame(b []byte, reason string) []byte {
	if len(reason) > wsMaxCloseFrame-4 {
		cut := wsMaxCloseFrame - 4
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	if !utf8.ValidString(reason) {
		reason = ""
	}
	const policyViolation = 1008
	b = append(b, 0x80|wsOpClose, byte(2+len(reason)), policyViolation>>8, policyViolation&0xff)
	return append(b, reason...)
}

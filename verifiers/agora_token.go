package verifiers

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync"
)

// This file reads an Agora AccessToken2 ("007" + base64(zlib(content))) by
// hand, as agora-token's AccessToken2.from_string does, but strictly: the
// inflation and every count and length are bounded by what is left.
//
// content = signature ‖ app id ‖ issue ts ‖ expire ‖ salt ‖ service count ‖
// services, little-endian, strings prefixed by a uint16 length. A service
// is its type (uint16), its privileges (uint16 count of uint16 id → uint32
// expire) and a body whose layout depends on the type.

const (
	// agoraMaxInflated bounds the inflated content: a real RTC token is
	// under 512 bytes (a 64-byte channel, a 255-byte account). More is a
	// zlib bomb or not a token: refused after reading at most this much.
	agoraMaxInflated = 4 << 10
	// agoraMaxServices and agoraMaxPrivileges bound the counts of services
	// of a token and of privileges of a service (Agora defines 10 and 4).
	agoraMaxServices   = 16
	agoraMaxPrivileges = 16
	// agoraSigLen is the length of the HMAC-SHA256 signature.
	agoraSigLen = 32
)

// Service types (agora-token's AccessToken2.kServices) and the RTC
// privileges.
const (
	agoraServiceRTC  = 1
	agoraPrivJoin    = 1
	agoraPrivAudio   = 2
	agoraPrivVideo   = 3
	agoraPrivData    = 4
	agoraPrivMaxRTC  = agoraPrivData
	agoraVersion     = "007"
	agoraMinTokenLen = len(agoraVersion) + 4
)

var agoraB64 = base64.StdEncoding.Strict()

// agoraToken is a parsed AccessToken2. Its byte slices point into the
// inflated content.
type agoraToken struct {
	sig     []byte // the signature
	signed  []byte // the signing info: everything after the signature
	appID   []byte
	issueTs uint32
	expire  uint32
	salt    uint32
	rtc     bool   // an RTC service was read
	channel []byte // of the RTC service
	uid     []byte // of the RTC service: a uid in decimal, or an account
	privs   [agoraPrivMaxRTC + 1]uint32
	has     [agoraPrivMaxRTC + 1]bool
}

// agoraInflater is a pooled zlib reader and its output buffer.
type agoraInflater struct {
	src bytes.Reader
	zr  io.ReadCloser
	buf [agoraMaxInflated + 1]byte
}

var agoraInflaters = sync.Pool{New: func() any { return new(agoraInflater) }}

// inflate decompresses blob into f.buf: nil unless blob is one complete
// zlib stream (header, data, Adler-32) of at most agoraMaxInflated bytes
// with nothing after it. It never reads more than agoraMaxInflated+1
// bytes of output, whatever the stream says.
func (f *agoraInflater) inflate(blob []byte) []byte {
	f.src.Reset(blob)
	if f.zr == nil {
		zr, err := zlib.NewReader(&f.src)
		if err != nil {
			return nil
		}
		f.zr = zr
	} else if f.zr.(zlib.Resetter).Reset(&f.src, nil) != nil {
		return nil
	}
	n := 0
	for n < len(f.buf) {
		m, err := f.zr.Read(f.buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			// The zlib reader returns io.EOF only after the checksum
			// matched; bytes.Reader feeds flate byte by byte, so what is
			// left is what follows the stream.
			if n > agoraMaxInflated || f.src.Len() != 0 {
				return nil
			}
			return f.buf[:n]
		}
		if err != nil {
			return nil
		}
	}
	return nil // more than agoraMaxInflated: refused, the rest never inflated
}

// agoraReader reads the little-endian fields of the content; any read past
// the end sets bad and returns zero values.
type agoraReader struct {
	b   []byte
	bad bool
}

func (r *agoraReader) u16() uint16 {
	if len(r.b) < 2 {
		r.bad, r.b = true, nil
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *agoraReader) u32() uint32 {
	if len(r.b) < 4 {
		r.bad, r.b = true, nil
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *agoraReader) bytes() []byte {
	n := int(r.u16())
	if r.bad || len(r.b) < n {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// agoraDecode reads a token into t, inflating it into f, which must be held
// until t is no longer used. It reports false for anything that is not a complete,
// well-formed AccessToken2.
func agoraDecode(token string, f *agoraInflater, t *agoraToken) bool {
	body, ok := strings.CutPrefix(token, agoraVersion)
	if !ok || len(token) < agoraMinTokenLen || len(body)%4 != 0 || strings.ContainsAny(body, "\r\n") {
		return false
	}
	blob, err := agoraB64.DecodeString(body)
	if err != nil {
		return false
	}
	content := f.inflate(blob)
	if content == nil {
		return false
	}
	r := agoraReader{b: content}
	t.sig = r.bytes()
	t.signed = r.b
	t.appID = r.bytes()
	t.issueTs, t.expire, t.salt = r.u32(), r.u32(), r.u32()
	count := int(r.u16())
	if r.bad || len(t.sig) != agoraSigLen || count > agoraMaxServices {
		return false
	}
	for range count {
		typ := r.u16()
		if r.bad {
			return false
		}
		if !agoraKnownService(typ) {
			// As from_string does: a type it does not know ends the
			// parse; the rest is signed but not read.
			return true
		}
		var privs [agoraPrivMaxRTC + 1]uint32
		var has [agoraPrivMaxRTC + 1]bool
		np := int(r.u16())
		if np > agoraMaxPrivileges {
			return false
		}
		var seen [agoraMaxPrivileges]uint16
		for i := range np {
			id, exp := r.u16(), r.u32()
			for _, s := range seen[:i] {
				if s == id {
					return false // a privilege given twice
				}
			}
			seen[i] = id
			if typ == agoraServiceRTC && id <= agoraPrivMaxRTC {
				privs[id], has[id] = exp, true
			}
		}
		if !agoraSkipBody(&r, typ, t) || r.bad {
			return false
		}
		if typ == agoraServiceRTC {
			t.privs, t.has = privs, has
		}
	}
	return !r.bad && len(r.b) == 0
}

// agoraKnownService reports whether typ is a service agora-token 2.0.6
// reads: RTC 1, RTM 2, Streaming 3, FPA 4, Chat 5, FCDN 6, APaaS 7,
// RTM2 8, ConvoAI 9, STT 10.
func agoraKnownService(typ uint16) bool { return typ >= 1 && typ <= 10 }

// agoraSkipBody reads the body of a service of type typ: the RTC one into
// t (a second RTC service is refused), the others past.
func agoraSkipBody(r *agoraReader, typ uint16, t *agoraToken) bool {
	switch typ {
	case agoraServiceRTC:
		if t.rtc {
			return false
		}
		t.rtc = true
		t.channel, t.uid = r.bytes(), r.bytes()
	case 2, 5: // RTM, Chat: a user id
		r.bytes()
	case 3, 6: // Streaming, FCDN: a channel and an account
		r.bytes()
		r.bytes()
	case 4, 9, 10: // FPA, ConvoAI, STT: nothing
	case 7: // APaaS: room, user and an int16 role
		r.bytes()
		r.bytes()
		r.u16()
	case 8: // RTM2: a user id and resource permissions
		r.bytes()
		for range r.u16() {
			r.u16()
			for range r.u16() {
				r.u16()
				for range r.u16() {
					if r.bytes(); r.bad {
						return false
					}
				}
			}
			if r.bad {
				return false
			}
		}
	}
	return !r.bad
}

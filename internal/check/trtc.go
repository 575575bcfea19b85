package check

// TRTC (Tencent Real-Time Communication and Tencent IM) limits.
const (
	// TRTCMinSecretLen and TRTCMaxSecretLen bound an SDKSecretKey; the
	// console's keys are 64 hexadecimal characters.
	TRTCMinSecretLen = 32
	TRTCMaxSecretLen = 256
	// TRTCMaxUserID is Tencent's limit on a UserID (TRTC and IM), in bytes.
	TRTCMaxUserID = 32
	// TRTCMaxStrRoomID is Tencent's limit on a string room id, in bytes.
	TRTCMaxStrRoomID = 64
)

// TRTCSecret returns what is wrong with a TRTC SDKSecretKey, or "".
func TRTCSecret(s string) string {
	if len(s) < TRTCMinSecretLen || len(s) > TRTCMaxSecretLen || !PrintableASCII(s) {
		return "must be 32 to 256 printable ASCII characters, the SDKSecretKey from the TRTC console (check for a trailing newline)"
	}
	return ""
}

// TRTCUserID reports whether s is a UserID that Tencent accepts: 1 to 32
// bytes of ASCII letters, digits, '_' and '-'.
func TRTCUserID(s string) bool {
	return trtcChars(s, TRTCMaxUserID, "_-")
}

// TRTCStrRoomID reports whether s is a string room id that TRTC accepts:
// 1 to 64 bytes of ASCII letters, digits, space and
// !#$%&()+-:;<=.>?@[]^_{}|~, (the strRoomId of TRTCParams).
func TRTCStrRoomID(s string) bool {
	return trtcChars(s, TRTCMaxStrRoomID, " !#$%&()+-:;<=.>?@[]^_{}|~,")
}

func trtcChars(s string, max int, more string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		ok := false
		for j := 0; j < len(more); j++ {
			if more[j] == c {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

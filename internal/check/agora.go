package check

// AgoraHex32 returns "" if s can be an Agora App ID or App Certificate:
// exactly 32 hexadecimal digits, what Agora's token builders require
// (agora-token's isUuid). Otherwise it returns the problem, in words that
// never include s.
func AgoraHex32(s string) string {
	if len(s) != 32 {
		return "must be 32 hexadecimal digits"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "must be 32 hexadecimal digits"
		}
	}
	return ""
}

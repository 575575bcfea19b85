package verifiers

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	agoraTestApp   = "970ca35de60c44645bbae8a215061b33"
	agoraTestCert  = "5cfd2fd1755d40ecb72977518be15d3b"
	agoraOtherCert = "0123456789abcdef0123456789abcdef"
	agoraOtherApp  = "fedcba9876543210fedcba9876543210"
	agoraTestNow   = 1_800_000_000
)

func agoraAt(sec int64) Clock { return func() time.Time { return time.Unix(sec, 0) } }

// agoraSpec describes a token for agoraBuild: the fields of AccessToken2,
// with services already packed.
type agoraSpec struct {
	app, cert              string
	issueTs, expire, salt  uint32
	services               [][]byte
	count                  int // the service count written; -1: len(services)
	sigLen                 int // 0: 32
	trailing, afterDeflate []byte
}

func agoraStr(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// agoraRTC packs an RTC service; privs are id, expire pairs in order.
func agoraRTC(channel, uid string, privs ...uint32) []byte {
	b := binary.LittleEndian.AppendUint16(nil, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(privs)/2))
	for i := 0; i+1 < len(privs); i += 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(privs[i]))
		b = binary.LittleEndian.AppendUint32(b, privs[i+1])
	}
	b = agoraStr(b, channel)
	return agoraStr(b, uid)
}

// agoraRTM packs an RTM service (type 2) with a login privilege.
func agoraRTM(user string) []byte {
	b := binary.LittleEndian.AppendUint16(nil, 2)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 600)
	return agoraStr(b, user)
}

func agoraContent(s agoraSpec) []byte {
	info := agoraStr(nil, s.app)
	info = binary.LittleEndian.AppendUint32(info, s.issueTs)
	info = binary.LittleEndian.AppendUint32(info, s.expire)
	info = binary.LittleEndian.AppendUint32(info, s.salt)
	count := s.count
	if count < 0 {
		count = len(s.services)
	}
	info = binary.LittleEndian.AppendUint16(info, uint16(count))
	for _, sv := range s.services {
		info = append(info, sv...)
	}
	info = append(info, s.trailing...)
	sig := agoraSig(s, info)
	if s.sigLen > 0 {
		sig = append(sig, make([]byte, s.sigLen)...)[:s.sigLen]
	}
	return append(agoraStr(nil, string(sig)), info...)
}

// agoraSig signs info with s's certificate, issue ts and salt.
func agoraSig(s agoraSpec, info []byte) []byte {
	var ts, salt [4]byte
	binary.LittleEndian.PutUint32(ts[:], s.issueTs)
	binary.LittleEndian.PutUint32(salt[:], s.salt)
	m := hmac.New(sha256.New, ts[:])
	m.Write([]byte(s.cert))
	k := m.Sum(nil)
	m = hmac.New(sha256.New, salt[:])
	m.Write(k)
	k = m.Sum(nil)
	m = hmac.New(sha256.New, k)
	m.Write(info)
	return m.Sum(nil)
}

func agoraDeflate(content []byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(content)
	w.Close()
	return z.Bytes()
}

func agoraBuild(s agoraSpec) string {
	z := append(agoraDeflate(agoraContent(s)), s.afterDeflate...)
	return "007" + base64.StdEncoding.EncodeToString(z)
}

// agoraBase is a valid account token for "player-1" in "arena-7",
// issued at agoraTestNow-60 for 600 s, publisher.
func agoraBase() agoraSpec {
	return agoraSpec{
		app: agoraTestApp, cert: agoraTestCert, issueTs: agoraTestNow - 60, expire: 600, salt: 12345, count: -1,
		services: [][]byte{agoraRTC("arena-7", "player-1", 1, 600, 2, 600, 3, 600, 4, 600)},
	}
}

func agoraTestVerifier(t testing.TB, now int64) *Agora {
	t.Helper()
	v, err := NewAgora(AgoraConfig{AppID: agoraTestApp, Certificates: []string{agoraOtherCert, agoraTestCert}, Clock: agoraAt(now)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAgoraVerify(t *testing.T) {
	v := agoraTestVerifier(t, agoraTestNow)
	id, err := v.Verify(context.Background(), agoraBuild(agoraBase()))
	if err != nil {
		t.Fatal(err)
	}
	if id.Provider != "agora" || id.Subject != "player-1" {
		t.Errorf("identity %+v", id)
	}
	if !id.Expires.Equal(time.Unix(agoraTestNow+540, 0)) || !id.IssuedAt.Equal(time.Unix(agoraTestNow-60, 0)) {
		t.Errorf("times %v %v", id.Expires, id.IssuedAt)
	}
	want := []Claim{{"app_id", agoraTestApp}, {"channel", "arena-7"},
		{"privileges", "join_channel,publish_audio,publish_video,publish_data"}, {"publish", "1"}}
	if len(id.Claims) != len(want) {
		t.Fatalf("claims %v", id.Claims)
	}
	for i := range want {
		if id.Claims[i] != want[i] {
			t.Errorf("claim %d = %v, want %v", i, id.Claims[i], want[i])
		}
	}
}

func TestAgoraVerifyPrivileges(t *testing.T) {
	tests := []struct {
		name     string
		rtc      []byte
		expire   uint32
		now      int64
		reason   string
		privs    string
		publish  string
		expireAt int64 // relative to the issue ts
	}{
		{"subscriber", agoraRTC("c", "42", 1, 600), 600, agoraTestNow, "", "join_channel", "0", 600},
		{"privilege 0 means the token's", agoraRTC("c", "42", 1, 0, 2, 0), 600, agoraTestNow, "", "join_channel,publish_audio", "1", 600},
		{"join shorter than token", agoraRTC("c", "42", 1, 100), 600, agoraTestNow, "", "join_channel", "0", 100},
		{"join lapsed", agoraRTC("c", "42", 1, 30), 600, agoraTestNow, ReasonTokenExpired, "", "", 0},
		{"token lapsed", agoraRTC("c", "42", 1, 0), 30, agoraTestNow, ReasonTokenExpired, "", "", 0},
		{"privilege beyond token", agoraRTC("c", "42", 1, 9000), 600, agoraTestNow, "", "join_channel", "0", 600},
		{"publish lapsed", agoraRTC("c", "42", 1, 600, 2, 30, 3, 30), 600, agoraTestNow, "", "join_channel", "0", 600},
		{"publish live, sooner", agoraRTC("c", "42", 1, 600, 2, 120, 3, 600), 600, agoraTestNow, "", "join_channel,publish_audio,publish_video", "1", 120},
		{"data only is no publish", agoraRTC("c", "42", 1, 600, 4, 600), 600, agoraTestNow, "", "join_channel,publish_data", "0", 600},
		{"unknown privilege ignored", agoraRTC("c", "42", 1, 600, 9, 600), 600, agoraTestNow, "", "join_channel", "0", 600},
		{"no join", agoraRTC("c", "42", 2, 600), 600, agoraTestNow, ReasonBadClaim, "", "", 0},
		{"duplicate privilege", agoraRTC("c", "42", 1, 600, 1, 600), 600, agoraTestNow, ReasonMalformedToken, "", "", 0},
		{"uid 0", agoraRTC("c", "", 1, 600), 600, agoraTestNow, ReasonMissingSubject, "", "", 0},
		{"uid \"0\"", agoraRTC("c", "0", 1, 600), 600, agoraTestNow, ReasonMissingSubject, "", "", 0},
		{"control char in uid", agoraRTC("c", "a\nb", 1, 600), 600, agoraTestNow, ReasonBadClaim, "", "", 0},
		{"long channel", agoraRTC(strings.Repeat("c", 65), "42", 1, 600), 600, agoraTestNow, ReasonBadClaim, "", "", 0},
		{"long account", agoraRTC("c", strings.Repeat("a", 256), 1, 600), 600, agoraTestNow, ReasonBadClaim, "", "", 0},
		{"expire 0", agoraRTC("c", "42", 1, 600), 0, agoraTestNow, ReasonMissingExp, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := agoraBase()
			s.services, s.expire = [][]byte{tt.rtc}, tt.expire
			id, err := agoraTestVerifier(t, tt.now).Verify(context.Background(), agoraBuild(s))
			if tt.reason != "" {
				if Reason(err) != tt.reason || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("err %v, want %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := id.Claim("privileges"); p != tt.privs {
				t.Errorf("privileges %q, want %q", p, tt.privs)
			}
			if p, _ := id.Claim("publish"); p != tt.publish {
				t.Errorf("publish %q, want %q", p, tt.publish)
			}
			if want := time.Unix(int64(s.issueTs)+tt.expireAt, 0); !id.Expires.Equal(want) {
				t.Errorf("expires %v, want %v", id.Expires, want)
			}
		})
	}
}

func TestAgoraVerifyRefusals(t *testing.T) {
	v := agoraTestVerifier(t, agoraTestNow)
	good := agoraBuild(agoraBase())
	bomb := "007" + base64.StdEncoding.EncodeToString(agoraDeflate(make([]byte, 4<<20)))
	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"empty", "", ReasonMissingToken},
		{"too long", "007" + strings.Repeat("A", MaxTokenLength), ReasonTokenTooLong},
		{"version 006", "006" + good[3:], ReasonMalformedToken},
		{"no body", "007", ReasonMalformedToken},
		{"not base64", "007!!!!", ReasonMalformedToken},
		{"newline", good[:20] + "\n" + good[20:], ReasonMalformedToken},
		{"truncated base64", good[:len(good)-4], ReasonMalformedToken},
		{"zlib bomb", bomb, ReasonMalformedToken},
		{"not zlib", "007" + base64.StdEncoding.EncodeToString([]byte("hello world!")), ReasonMalformedToken},
		{"other app", func() string { s := agoraBase(); s.app = agoraOtherApp; return agoraBuild(s) }(), ReasonWrongAudience},
		{"other certificate", func() string { s := agoraBase(); s.cert = "ffffffffffffffffffffffffffffffff"; return agoraBuild(s) }(), ReasonBadSignature},
		{"expired", func() string { s := agoraBase(); s.issueTs = agoraTestNow - 700; return agoraBuild(s) }(), ReasonTokenExpired},
		{"no RTC service", func() string { s := agoraBase(); s.services = [][]byte{agoraRTM("u")}; return agoraBuild(s) }(), ReasonWrongScope},
		{"RTM after RTC", func() string { s := agoraBase(); s.services = append(s.services, agoraRTM("u")); return agoraBuild(s) }(), ""},
		{"unknown service after RTC ignored", func() string {
			s := agoraBase()
			s.services = append(s.services, []byte{99, 0, 1, 2, 3})
			return agoraBuild(s)
		}(), ""},
		{"two RTC services", func() string { s := agoraBase(); s.services = append(s.services, s.services[0]); return agoraBuild(s) }(), ReasonMalformedToken},
		{"count beyond services", func() string { s := agoraBase(); s.count = 2; return agoraBuild(s) }(), ReasonMalformedToken},
		{"too many services", func() string { s := agoraBase(); s.count = 17; return agoraBuild(s) }(), ReasonMalformedToken},
		{"trailing bytes", func() string { s := agoraBase(); s.trailing = []byte{0}; return agoraBuild(s) }(), ReasonMalformedToken},
		{"after the zlib stream", func() string { s := agoraBase(); s.afterDeflate = []byte{0}; return agoraBuild(s) }(), ReasonMalformedToken},
		{"short signature", func() string { s := agoraBase(); s.sigLen = 31; return agoraBuild(s) }(), ReasonMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if Reason(err) != tt.reason || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err %v, want %s", err, tt.reason)
			}
		})
	}
	// Every truncation of the content, re-deflated and signed or not, is
	// refused without a panic.
	content := agoraContent(agoraBase())
	for n := range len(content) {
		tok := "007" + base64.StdEncoding.EncodeToString(agoraDeflate(content[:n]))
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	// Every single-bit flip of the content is refused.
	for i := range len(content) * 8 {
		c := bytes.Clone(content)
		c[i/8] ^= 1 << (i % 8)
		tok := "007" + base64.StdEncoding.EncodeToString(agoraDeflate(c))
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
	}
}

func TestAgoraLeeway(t *testing.T) {
	s := agoraBase()
	tok := agoraBuild(s)
	end := int64(s.issueTs + s.expire)
	v, _ := NewAgora(AgoraConfig{AppID: agoraTestApp, Certificates: []string{agoraTestCert}, Leeway: 30 * time.Second, Clock: agoraAt(end + 29)})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	v, _ = NewAgora(AgoraConfig{AppID: agoraTestApp, Certificates: []string{agoraTestCert}, Leeway: 30 * time.Second, Clock: agoraAt(end + 30)})
	if _, err := v.Verify(context.Background(), tok); Reason(err) != ReasonTokenExpired {
		t.Errorf("past leeway: %v", err)
	}
}

func TestNewAgoraConfig(t *testing.T) {
	for _, c := range []AgoraConfig{
		{AppID: "", Certificates: []string{agoraTestCert}},
		{AppID: "xyz", Certificates: []string{agoraTestCert}},
		{AppID: agoraTestApp},
		{AppID: agoraTestApp, Certificates: []string{"short"}},
		{AppID: agoraTestApp, Certificates: []string{agoraTestCert, agoraTestCert}},
		{AppID: agoraTestApp, Certificates: strings.Split(strings.Repeat(agoraTestCert+",", 9), ",")[:9]},
		{AppID: agoraTestApp, Certificates: []string{agoraTestCert}, Leeway: 6 * time.Minute},
		{AppID: agoraTestApp, Certificates: []string{agoraTestCert}, Leeway: -1},
	} {
		if _, err := NewAgora(c); err == nil {
			t.Errorf("%+v accepted", c)
		} else if strings.Contains(err.Error(), agoraTestCert) {
			t.Errorf("error prints the certificate: %v", err)
		}
	}
}

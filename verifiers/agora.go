package verifiers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// Agora AccessToken2 limits (agora-token's RtcTokenBuilder2 documentation).
const (
	// agoraMaxCertificates bounds AgoraConfig.Certificates: a forged
	// token costs three HMACs per certificate.
	agoraMaxCertificates = 8
	// agoraMaxLeeway bounds AgoraConfig.Leeway.
	agoraMaxLeeway = 5 * time.Minute
	// agoraMaxChannel is Agora's limit on a channel name (64 bytes).
	agoraMaxChannel = 64
	// agoraMaxAccount is Agora's limit on a user account (255 bytes).
	agoraMaxAccount = 255
)

// AgoraConfig configures an Agora AccessToken2 verifier.
type AgoraConfig struct {
	// AppID is the Agora App ID the tokens must carry: 32 hexadecimal
	// digits. Required.
	AppID string
	// Certificates are App Certificates of the App ID (32 hexadecimal
	// digits each), tried in order, so a new certificate can be added
	// before the old one is removed. At least one, at most 8.
	Certificates []string
	// Leeway is added to the token's and each privilege's expiry to absorb
	// clock skew, from 0 to 5 minutes. Default 0.
	Leeway time.Duration
	// Clock returns the current time. Default time.Now.
	Clock Clock
}

// Agora verifies Agora AccessToken2 RTC tokens ("007…"), as made by
// agora-token's RtcTokenBuilder (buildTokenWithUid,
// buildTokenWithUserAccount and the others of RtcTokenBuilder2). It is
// immutable and safe for concurrent use.
//
// The token must carry the configured App ID, be signed with a configured
// App Certificate (HMAC-SHA256 keyed with HMAC(salt, HMAC(issue ts,
// certificate))), hold exactly one RTC service with the join-channel
// privilege, and be within its expiry: issue ts + expire (an expire of 0
// is refused: missing exp) and issue ts + the join privilege's expire (0:
// the token's). Services of types agora-token does not know end the parse,
// as they do in agora-token's from_string: they are signed, and ignored.
//
// Identity.Subject is the RTC service's uid, in decimal, or the user
// account (AccessToken2 writes both as a string); uid 0 ("" or "0"), which
// lets anyone join, is refused as missing subject. IssuedAt is the issue
// ts. Claims, in this order and omitted when empty: app_id; channel;
// privileges (the live ones among join_channel, publish_audio,
// publish_video and publish_data, comma-separated); publish ("1" when
// publish_audio or publish_video is live, else "0"). A publish privilege
// counts only until its own expiry (0: the token's); Expires is the join
// privilege's expiry, or the earlier expiry of a live publish privilege,
// so that a cached identity never claims a privilege that has lapsed.
type Agora struct {
	appID  string
	certs  [][]byte
	leeway time.Duration
	clock  Clock
}

// NewAgora checks cfg and returns an Agora verifier. Its errors name the
// faulty field but never print a certificate.
func NewAgora(cfg AgoraConfig) (*Agora, error) {
	if msg := check.AgoraHex32(cfg.AppID); msg != "" {
		return nil, check.Field("agora", "AppID", msg)
	}
	if len(cfg.Certificates) == 0 {
		return nil, check.Field("agora", "Certificates", "must hold at least one certificate")
	}
	if len(cfg.Certificates) > agoraMaxCertificates {
		return nil, check.Field("agora", "Certificates", "holds more than "+strconv.Itoa(agoraMaxCertificates)+" certificates")
	}
	if cfg.Leeway < 0 || cfg.Leeway > agoraMaxLeeway {
		return nil, check.Field("agora", "Leeway", "must be between 0 and "+agoraMaxLeeway.String())
	}
	v := &Agora{appID: cfg.AppID, leeway: cfg.Leeway, clock: clockOrNow(cfg.Clock)}
	for i, c := range cfg.Certificates {
		if msg := check.AgoraHex32(c); msg != "" {
			return nil, check.Item("agora", "Certificates", i, msg)
		}
		for j := range i {
			if subtle.ConstantTimeCompare([]byte(cfg.Certificates[j]), []byte(c)) == 1 {
				return nil, check.Item("agora", "Certificates", i, "repeats Certificates["+strconv.Itoa(j)+"]")
			}
		}
		v.certs = append(v.certs, []byte(c))
	}
	return v, nil
}

// Verify checks an AccessToken2 and returns the identity it speaks for.
// Every failure wraps ErrInvalidToken. It never panics.
func (v *Agora) Verify(_ context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, Invalid(ReasonMissingToken)
	}
	if len(token) > MaxTokenLength {
		return Identity{}, Invalid(ReasonTokenTooLong)
	}
	f := agoraInflaters.Get().(*agoraInflater)
	defer agoraInflaters.Put(f)
	var t agoraToken
	if !agoraDecode(token, f, &t) {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	if string(t.appID) != v.appID {
		return Identity{}, Invalid(ReasonWrongAudience)
	}
	if !v.signedByUs(&t) {
		return Identity{}, Invalid(ReasonBadSignature)
	}
	return v.check(&t)
}

// signedByUs reports whether a configured certificate signed t.
func (v *Agora) signedByUs(t *agoraToken) bool {
	var ts, salt [4]byte
	binary.LittleEndian.PutUint32(ts[:], t.issueTs)
	binary.LittleEndian.PutUint32(salt[:], t.salt)
	var k1, k2, sum [sha256.Size]byte
	for _, c := range v.certs {
		m := hmac.New(sha256.New, ts[:])
		m.Write(c)
		m.Sum(k1[:0])
		m = hmac.New(sha256.New, salt[:])
		m.Write(k1[:])
		m.Sum(k2[:0])
		m = hmac.New(sha256.New, k2[:])
		m.Write(t.signed)
		if hmac.Equal(m.Sum(sum[:0]), t.sig) {
			return true
		}
	}
	return false
}

// agoraPrivNames are the claim names of the RTC privileges, by id.
var agoraPrivNames = [agoraPrivMaxRTC + 1]string{"", "join_channel", "publish_audio", "publish_video", "publish_data"}

// check applies the rules to a signed token and builds the identity.
func (v *Agora) check(t *agoraToken) (Identity, error) {
	switch {
	case !t.rtc:
		// An RTM, Chat, ... token: signed, but not for RTC.
		return Identity{}, Invalid(ReasonWrongScope)
	case t.expire == 0:
		return Identity{}, Invalid(ReasonMissingExp)
	case !t.has[agoraPrivJoin]:
		// An RTC service that cannot join its channel grants nothing.
		return Identity{}, Invalid(ReasonBadClaim)
	case len(t.uid) == 0 || string(t.uid) == "0":
		return Identity{}, Invalid(ReasonMissingSubject)
	case len(t.uid) > agoraMaxAccount || !check.CleanText(string(t.uid)):
		return Identity{}, Invalid(ReasonBadClaim)
	case len(t.channel) > agoraMaxChannel || !check.CleanText(string(t.channel)):
		return Identity{}, Invalid(ReasonBadClaim)
	}
	issued := int64(t.issueTs)
	tokenExp := issued + int64(t.expire)
	// until is when a privilege lapses: its own expire, or the token's
	// when it is 0 or later.
	until := func(p int) int64 {
		if e := t.privs[p]; e != 0 {
			return min(tokenExp, issued+int64(e))
		}
		return tokenExp
	}
	now := v.clock()
	lapsed := func(at int64) bool { return !now.Before(time.Unix(at, 0).Add(v.leeway)) }
	expires := until(agoraPrivJoin)
	if lapsed(expires) {
		return Identity{}, Invalid(ReasonTokenExpired)
	}
	var names strings.Builder
	names.WriteString(agoraPrivNames[agoraPrivJoin])
	publish := "0"
	for p := agoraPrivJoin + 1; p <= agoraPrivMaxRTC; p++ {
		if !t.has[p] || lapsed(until(p)) {
			continue
		}
		names.WriteByte(',')
		names.WriteString(agoraPrivNames[p])
		if p != agoraPrivData {
			publish = "1"
		}
		expires = min(expires, until(p))
	}
	id := Identity{
		Provider: "agora",
		Subject:  string(t.uid),
		Expires:  time.Unix(expires, 0),
		IssuedAt: time.Unix(issued, 0),
		Claims:   make([]Claim, 0, 4),
	}
	id.Claims = append(id.Claims, Claim{Name: "app_id", Value: v.appID})
	if len(t.channel) > 0 {
		id.Claims = append(id.Claims, Claim{Name: "channel", Value: string(t.channel)})
	}
	id.Claims = append(id.Claims,
		Claim{Name: "privileges", Value: names.String()},
		Claim{Name: "publish", Value: publish})
	return id, nil
}

var _ Verifier = (*Agora)(nil)

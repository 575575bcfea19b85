package verifiers

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// This file reads an inflated UserSig: its JSON, through
// internal/strictjson, its userbuf (the PrivateMapKey's binary layout) by
// hand, and the rules on what they say.

// TRTC privilege map bits (tls-sig-api-v2's genPrivateMapKey).
const (
	trtcPrivEnter = 2               // enter the room
	trtcPrivSend  = 4 | 16 | 64     // send audio, video, sub-stream video
	trtcPrivAll   = 255             // the eight bits of the map
	trtcFixedBuf  = 1 + 2 + 4*5     // userbuf without account and room string
	trtcStrRoom   = 1               // userbuf cVer of a string room id
	trtcNumRoom   = 0               // userbuf cVer of a numeric room id
	trtcUserbufB  = 1 << 5          // seen: TLS.userbuf
	trtcRequired  = 1<<5 - 1 | 1<<6 // seen: every member but TLS.userbuf
	trtcMaxRoomID = 1<<32 - 1       // numeric rooms are 32-bit
)

var trtcNames = strictjson.NewNames("TLS.ver", "TLS.identifier", "TLS.sdkappid", "TLS.time", "TLS.expire", "TLS.userbuf", "TLS.sig")

// trtcSig is the UserSig JSON: exactly the members tls-sig-api-v2 writes,
// the numbers integers.
type trtcSig struct {
	ver, identifier, sig, userbuf string
	appID, time, expire           int64
	seen                          uint8 // bit i: member i of trtcNames
	bad                           bool
}

// member reads one member of the top-level object.
func (s *trtcSig) member(name, value string) {
	var bit uint8
	var str *string
	var num *int64
	switch name {
	case "TLS.ver":
		bit, str = 1<<0, &s.ver
	case "TLS.identifier":
		bit, str = 1<<1, &s.identifier
	case "TLS.sdkappid":
		bit, num = 1<<2, &s.appID
	case "TLS.time":
		bit, num = 1<<3, &s.time
	case "TLS.expire":
		bit, num = 1<<4, &s.expire
	case "TLS.userbuf":
		bit, str = trtcUserbufB, &s.userbuf
	case "TLS.sig":
		bit, str = 1<<6, &s.sig
	default:
		s.bad = true
		return
	}
	s.seen |= bit
	if str != nil {
		v, ok := strictjson.String(value)
		s.bad = s.bad || !ok
		*str = v
		return
	}
	// Non-negative integers as JSON writes them: no sign, fraction or
	// exponent (the signed text is their decimal form).
	n, err := strconv.ParseUint(value, 10, 63)
	s.bad = s.bad || err != nil
	*num = int64(n)
}

// parse reads the JSON strictly: a strict JSON object (internal/strictjson)
// with exactly the six members of a UserSig, or seven with TLS.userbuf,
// TLS.ver "2.0".
func (s *trtcSig) parse(doc []byte) bool {
	err := strictjson.Check(doc, trtcNames, s.member)
	return err == nil && !s.bad && s.seen&trtcRequired == trtcRequired && s.ver == "2.0"
}

// appendSigned appends the text TLS.sig signs.
func (s *trtcSig) appendSigned(dst []byte) []byte {
	dst = append(dst, "TLS.identifier:"...)
	dst = append(dst, s.identifier...)
	dst = append(dst, "\nTLS.sdkappid:"...)
	dst = strconv.AppendInt(dst, s.appID, 10)
	dst = append(dst, "\nTLS.time:"...)
	dst = strconv.AppendInt(dst, s.time, 10)
	dst = append(dst, "\nTLS.expire:"...)
	dst = strconv.AppendInt(dst, s.expire, 10)
	dst = append(dst, '\n')
	if s.seen&trtcUserbufB != 0 {
		dst = append(dst, "TLS.userbuf:"...)
		dst = append(dst, s.userbuf...)
		dst = append(dst, '\n')
	}
	return dst
}

// trtcRoom is what a PrivateMapKey's userbuf says.
type trtcRoom struct {
	room      string // decimal for a numeric room
	str       bool   // a string room id
	expire    int64  // absolute, seconds
	privilege uint32
}

// trtcParseUserbuf reads the userbuf layout of tls-sig-api-v2's
// _genUserbuf, all integers big-endian: cVer (1 byte: 0 numeric room, 1
// string room), account length (2), account, sdkappid (4), numeric room
// (4), expiry (4, absolute), privilege map (4), account type (4) and, for
// cVer 1, room length (2) and room. Every length is checked against what
// is left, and nothing may follow.
func trtcParseUserbuf(buf []byte, account string, appID int64) (trtcRoom, string) {
	var r trtcRoom
	if len(buf) < trtcFixedBuf {
		return r, ReasonMalformedToken
	}
	ver := buf[0]
	accLen := int(binary.BigEndian.Uint16(buf[1:]))
	rest := buf[3:]
	if ver != trtcNumRoom && ver != trtcStrRoom || len(rest) < accLen+20 {
		return r, ReasonMalformedToken
	}
	acc := rest[:accLen]
	rest = rest[accLen:]
	app := int64(binary.BigEndian.Uint32(rest))
	authID := binary.BigEndian.Uint32(rest[4:])
	r.expire = int64(binary.BigEndian.Uint32(rest[8:]))
	r.privilege = binary.BigEndian.Uint32(rest[12:])
	rest = rest[20:] // and the account type, which every generator writes 0
	if ver == trtcStrRoom {
		if len(rest) < 2 {
			return r, ReasonMalformedToken
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) != 2+n {
			return r, ReasonMalformedToken
		}
		r.room, r.str = string(rest[2:]), true
	} else if len(rest) != 0 {
		return r, ReasonMalformedToken
	}
	switch {
	case string(acc) != account:
		return r, ReasonBadClaim
	case app != appID:
		return r, ReasonWrongAudience
	case r.privilege > trtcPrivAll:
		return r, ReasonBadClaim
	case r.str && !check.TRTCStrRoomID(r.room):
		return r, ReasonBadClaim
	case !r.str && (authID == 0 || authID == trtcMaxRoomID):
		// TRTC's numeric rooms are 1 to 4294967294.
		return r, ReasonBadClaim
	}
	if !r.str {
		r.room = strconv.FormatUint(uint64(authID), 10)
	}
	return r, ""
}

// check applies the rules to a signed UserSig and builds the identity.
func (v *TRTC) check(s *trtcSig) (Identity, error) {
	switch {
	case s.expire <= 0 || s.time > maxUnix || s.expire > maxUnix-s.time:
		return Identity{}, Invalid(ReasonBadTimeClaim)
	case s.identifier == "":
		return Identity{}, Invalid(ReasonMissingSubject)
	case len(s.identifier) > check.TRTCMaxUserID || !check.CleanText(s.identifier):
		return Identity{}, Invalid(ReasonBadClaim)
	}
	expires := s.time + s.expire
	var room trtcRoom
	if s.seen&trtcUserbufB != 0 {
		buf, err := base64.StdEncoding.Strict().DecodeString(s.userbuf)
		if err != nil {
			return Identity{}, Invalid(ReasonMalformedToken)
		}
		var reason string
		if room, reason = trtcParseUserbuf(buf, s.identifier, v.appID); reason != "" {
			return Identity{}, Invalid(reason)
		}
		// The room's privileges expire at the userbuf's time, which the
		// generators compute apart from TLS.time (a second earlier at
		// most); a userbuf expiring before its token was issued is not
		// a time.
		if room.expire < s.time {
			return Identity{}, Invalid(ReasonBadTimeClaim)
		}
		expires = min(expires, room.expire)
	}
	exp := time.Unix(expires, 0)
	if !v.clock().Before(exp.Add(v.leeway)) {
		return Identity{}, Invalid(ReasonTokenExpired)
	}
	id := Identity{
		Provider: "trtc",
		Subject:  s.identifier,
		Expires:  exp,
		IssuedAt: time.Unix(s.time, 0),
		Claims:   make([]Claim, 1, 6),
	}
	id.Claims[0] = Claim{Name: "sdk_app_id", Value: v.appIDStr}
	if s.seen&trtcUserbufB == 0 {
		return id, nil
	}
	typ := "number"
	if room.str {
		typ = "string"
	}
	id.Claims = append(id.Claims,
		Claim{Name: "room_id", Value: room.room},
		Claim{Name: "room_type", Value: typ},
		Claim{Name: "privilege_map", Value: strconv.FormatUint(uint64(room.privilege), 10)},
		Claim{Name: "enter_room", Value: trtcFlag(room.privilege&trtcPrivEnter != 0)},
		Claim{Name: "publish", Value: trtcFlag(room.privilege&trtcPrivSend != 0)},
	)
	return id, nil
}

func trtcFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

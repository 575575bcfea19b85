package verifiers

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/strictjson"
)

// This file reads a decrypted Token04: its JSON plaintext and privilege
// payload, through internal/strictjson and encoding/json, and the rules on
// what they say.

// zegoPlain is the decrypted Token04 JSON: exactly these six members, the
// numbers integers (as every generator writes them).
type zegoPlain struct {
	AppID   *int64  `json:"app_id"`
	UserID  *string `json:"user_id"`
	Nonce   *int64  `json:"nonce"`
	Ctime   *int64  `json:"ctime"`
	Expire  *int64  `json:"expire"`
	Payload *string `json:"payload"`
}

// zegoPayload is a privilege payload; other members are ignored.
type zegoPayload struct {
	RoomID    string `json:"room_id"`
	Privilege *struct {
		Login   *int64 `json:"1"`
		Publish *int64 `json:"2"`
	} `json:"privilege"`
	Streams []string `json:"stream_id_list"`
}

var (
	zegoPlainNames   = claimNames(reflect.TypeFor[zegoPlain]())
	zegoPayloadNames = claimNames(reflect.TypeFor[zegoPayload]())
)

// zegoParsePlain reads the decrypted JSON strictly: a strict JSON object
// (internal/strictjson) with exactly the six Token04 members, integers from
// -(2^63-1) to 2^63-1 for the numbers and strings for the others. Being
// stricter than encoding/json narrows what CBC bit-flipping could smuggle
// through.
func zegoParsePlain(pt []byte) (zegoPlain, bool) {
	var p zegoPlain
	members, unknown := 0, false
	err := strictjson.Check(pt, zegoPlainNames, func(name, _ string) {
		members++
		unknown = unknown || !zegoPlainNames.Has(name)
	})
	if err != nil || members != 6 || unknown || json.Unmarshal(pt, &p) != nil ||
		p.AppID == nil || p.UserID == nil || p.Nonce == nil || p.Ctime == nil || p.Expire == nil || p.Payload == nil {
		return p, false
	}
	for _, n := range []int64{*p.AppID, *p.Nonce, *p.Ctime, *p.Expire} {
		if n == math.MinInt64 {
			return p, false
		}
	}
	return p, true
}

// check applies the rules to a parsed plaintext and builds the identity.
func (v *Zego) check(l *zegoLayout, c *zegoPlain) (Identity, error) {
	expire, ctime, user := *c.Expire, *c.Ctime, *c.UserID
	switch {
	case *c.AppID != v.appID:
		return Identity{}, Invalid(ReasonWrongAudience)
	case expire != l.expire:
		// CBC does not protect the clear prefix: it must say what the
		// encrypted JSON says.
		return Identity{}, Invalid(ReasonBadTimeClaim)
	case expire <= 0 || expire > maxUnix || ctime < 0 || ctime > expire:
		return Identity{}, Invalid(ReasonBadTimeClaim)
	case user == "":
		return Identity{}, Invalid(ReasonMissingSubject)
	case !zegoCleanID(user, zegoMaxUserID, false):
		return Identity{}, Invalid(ReasonBadClaim)
	}
	expires := time.Unix(expire, 0)
	if !v.clock().Before(expires.Add(v.leeway)) {
		return Identity{}, Invalid(ReasonTokenExpired)
	}
	id := Identity{
		Provider: "zego",
		Subject:  user,
		Expires:  expires,
		IssuedAt: time.Unix(ctime, 0),
		Claims:   make([]Claim, 1, 5),
	}
	id.Claims[0] = Claim{Name: "app_id", Value: v.appIDStr}
	if *c.Payload == "" {
		return id, nil
	}
	var p zegoPayload
	if strictjson.Check([]byte(*c.Payload), zegoPayloadNames, nil) != nil || json.Unmarshal([]byte(*c.Payload), &p) != nil {
		return Identity{}, Invalid(ReasonMalformedToken)
	}
	if p.RoomID != "" && !zegoCleanID(p.RoomID, zegoMaxRoomID, false) {
		return Identity{}, Invalid(ReasonBadClaim)
	}
	for _, s := range p.Streams {
		if !zegoCleanID(s, zegoMaxStreamID, true) {
			return Identity{}, Invalid(ReasonBadClaim)
		}
	}
	if p.RoomID != "" {
		id.Claims = append(id.Claims, Claim{Name: "room_id", Value: p.RoomID})
	}
	if pv := p.Privilege; pv != nil {
		login, ok1 := zegoFlag(pv.Login)
		publish, ok2 := zegoFlag(pv.Publish)
		if !ok1 || !ok2 {
			return Identity{}, Invalid(ReasonBadClaim)
		}
		id.Claims = append(id.Claims, Claim{Name: "login", Value: login}, Claim{Name: "publish", Value: publish})
	}
	if len(p.Streams) > 0 {
		id.Claims = append(id.Claims, Claim{Name: "stream_ids", Value: strings.Join(p.Streams, ",")})
	}
	return id, nil
}

// zegoFlag reads a privilege: absent (not granted), 0 or 1.
func zegoFlag(n *int64) (string, bool) {
	switch {
	case n == nil || *n == 0:
		return "0", true
	case *n == 1:
		return "1", true
	}
	return "", false
}

// zegoCleanID reports whether s is a usable id: 1 to max bytes of clean
// text (check.CleanText), and, for stream ids, no comma (stream_ids are
// joined with commas).
func zegoCleanID(s string, max int, stream bool) bool {
	return s != "" && len(s) <= max && check.CleanText(s) && !(stream && strings.Contains(s, ","))
}

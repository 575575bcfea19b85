package issuers_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

const (
	zegoRTApp       = 3000000001
	zegoRTSecret    = "t3st-s3cret-0123456789abcdefghij"
	zegoRTOldSecret = "0ld-s3cret-0123456789abcdefghijk"
	zegoRTNow       = 1800000000
)

func zegoRTIssuer(tb testing.TB, mode issuers.ZegoMode, secret string) *issuers.Zego {
	tb.Helper()
	z, err := issuers.NewZego(issuers.ZegoConfig{
		AppID: zegoRTApp, Secret: secret, Mode: mode,
		Clock: func() time.Time { return time.Unix(zegoRTNow, 0) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return z
}

func zegoRTVerifier(tb testing.TB, now int64, secrets ...string) *verifiers.Zego {
	tb.Helper()
	v, err := verifiers.NewZego(verifiers.ZegoConfig{
		AppID: zegoRTApp, Secrets: secrets,
		Clock: func() time.Time { return time.Unix(now, 0) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// zegoRTClaims is what the verifier must report for a request.
func zegoRTClaims(req issuers.Request) []verifiers.Claim {
	c := []verifiers.Claim{{Name: "app_id", Value: "3000000001"}}
	if req.RoomID == "" {
		return c
	}
	pub := "0"
	if req.Publish {
		pub = "1"
	}
	c = append(c,
		verifiers.Claim{Name: "room_id", Value: req.RoomID},
		verifiers.Claim{Name: "login", Value: "1"},
		verifiers.Claim{Name: "publish", Value: pub})
	if len(req.StreamIDs) > 0 {
		c = append(c, verifiers.Claim{Name: "stream_ids", Value: strings.Join(req.StreamIDs, ",")})
	}
	return c
}

func TestZegoRoundTrip(t *testing.T) {
	reqs := []issuers.Request{
		{UserID: "player_7"},
		{UserID: "p-100", RoomID: "lobby-1"},
		{UserID: "91231223346130001", RoomID: "arena_9", Publish: true, StreamIDs: []string{"s1", "s2"}},
		{UserID: "viewer", RoomID: "arena_9", StreamIDs: []string{"s1"}},
		{UserID: `a<b>&c'~\/`, RoomID: `r/\%&<>`, Publish: true, TTL: 90 * time.Second},
		{UserID: strings.Repeat("u", 64), RoomID: strings.Repeat("r", 128), Publish: true, StreamIDs: []string{strings.Repeat("s", 256)}, TTL: 24 * time.Hour},
	}
	ctx := context.Background()
	for _, mode := range []issuers.ZegoMode{issuers.ZegoGCM, issuers.ZegoCBC} {
		z := zegoRTIssuer(t, mode, zegoRTSecret)
		for _, req := range reqs {
			tok, err := z.Issue(ctx, req)
			if err != nil {
				t.Fatalf("mode %d: Issue(%+v): %v", mode, req, err)
			}
			v := zegoRTVerifier(t, zegoRTNow, zegoRTSecret)
			id, err := v.Verify(ctx, tok.Token)
			if err != nil {
				t.Fatalf("mode %d: Verify(%+v): %v", mode, req, err)
			}
			if id.Provider != "zego" || id.Subject != req.UserID || !id.Expires.Equal(tok.ExpiresAt) {
				t.Fatalf("identity %+v for %+v (token %+v)", id, req, tok)
			}
			if want := zegoRTClaims(req); !slices.Equal(id.Claims, want) {
				t.Fatalf("claims %v, want %v", id.Claims, want)
			}
			// Valid until the last second before ExpiresAt.
			last := tok.ExpiresAt.Unix() - 1
			if _, err := zegoRTVerifier(t, last, zegoRTSecret).Verify(ctx, tok.Token); err != nil {
				t.Fatalf("one second before expiry: %v", err)
			}
			_, err = zegoRTVerifier(t, last+1, zegoRTSecret).Verify(ctx, tok.Token)
			if !errors.Is(err, verifiers.ErrInvalidToken) || verifiers.Reason(err) != "token expired" {
				t.Fatalf("at expiry: %v", err)
			}
		}
	}
}

func TestZegoRoundTripRotation(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []issuers.ZegoMode{issuers.ZegoGCM, issuers.ZegoCBC} {
		oldTok, err := zegoRTIssuer(t, mode, zegoRTOldSecret).Issue(ctx, issuers.Request{UserID: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		newTok, err := zegoRTIssuer(t, mode, zegoRTSecret).Issue(ctx, issuers.Request{UserID: "u2"})
		if err != nil {
			t.Fatal(err)
		}
		// During rotation both verify, whatever the order of the secrets.
		for _, v := range []*verifiers.Zego{
			zegoRTVerifier(t, zegoRTNow, zegoRTSecret, zegoRTOldSecret),
			zegoRTVerifier(t, zegoRTNow, zegoRTOldSecret, zegoRTSecret),
		} {
			for _, tok := range []issuers.Token{oldTok, newTok} {
				if id, err := v.Verify(ctx, tok.Token); err != nil || id.Subject != tok.UserID {
					t.Fatalf("mode %d: rotation: %v %+v", mode, err, id)
				}
			}
		}
		// After it, the old token fails.
		if _, err := zegoRTVerifier(t, zegoRTNow, zegoRTSecret).Verify(ctx, oldTok.Token); !errors.Is(err, verifiers.ErrInvalidToken) {
			t.Fatalf("mode %d: old token after rotation: %v", mode, err)
		}
	}
}

// FuzzZegoRoundTrip issues a token for arbitrary ids and checks the
// issuer and the verifier agree: a request is refused with a RequestError
// exactly when an id fails ValidateZegoID (or the token would be too
// long), and an issued token verifies to the same user, room and streams.
func FuzzZegoRoundTrip(f *testing.F) {
	f.Add("player_7", "", "", false, true)
	f.Add("p-100", "lobby-1", "", false, false)
	f.Add("91231223346130001", "arena_9", "s1,s2", true, true)
	f.Add(`a<b>&c'~\`, `r/\%`, "x", true, false)
	f.Add("élève", "r", "", false, true)
	f.Add("u", "", "s", true, true)
	ctx := context.Background()
	issuersByMode := map[bool]*issuers.Zego{
		true:  zegoRTIssuer(f, issuers.ZegoGCM, zegoRTSecret),
		false: zegoRTIssuer(f, issuers.ZegoCBC, zegoRTSecret),
	}
	v := zegoRTVerifier(f, zegoRTNow, zegoRTSecret)
	f.Fuzz(func(t *testing.T, user, room, streams string, publish, gcm bool) {
		req := issuers.Request{UserID: user, RoomID: room, Publish: publish}
		if streams != "" {
			req.StreamIDs = strings.Split(streams, ",")
		}
		tok, err := issuersByMode[gcm].Issue(ctx, req)
		valid := issuers.ValidateZegoID(issuers.ZegoUserID, user) == nil
		if room != "" {
			valid = valid && issuers.ValidateZegoID(issuers.ZegoRoomID, room) == nil
		} else if publish || len(req.StreamIDs) > 0 {
			valid = false
		}
		for _, s := range req.StreamIDs {
			valid = valid && issuers.ValidateZegoID(issuers.ZegoStreamID, s) == nil
		}
		if err != nil {
			var re *issuers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("Issue(%+v): %v is not a RequestError", req, err)
			}
			if valid && re.Field != "stream_ids" {
				t.Fatalf("Issue(%+v) refused valid ids: %v", req, err)
			}
			return
		}
		if !valid {
			t.Fatalf("Issue(%+v) accepted ids ValidateZegoID refuses", req)
		}
		id, err := v.Verify(ctx, tok.Token)
		if err != nil {
			t.Fatalf("Verify of issued token for %+v: %v", req, err)
		}
		if id.Subject != user || !slices.Equal(id.Claims, zegoRTClaims(req)) {
			t.Fatalf("identity %+v for %+v", id, req)
		}
	})
}

package issuers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/issuers"
)

// Request.NotAfter cuts every issuer's lifetime so that the token expires
// no later (a minor's play window end), in the token's own unit, and
// refuses one that would leave less than a second.
func TestNotAfter(t *testing.T) {
	for name, iss := range map[string]issuers.Issuer{
		"zego":      zegoRTIssuer(t, issuers.ZegoGCM, zegoRTSecret),
		"twilio":    newTwilioIssuer(t, nil),
		"seayoo":    seayooNewIssuer(t, nil),
		"cloudbase": cbIssuer(t, issuers.CloudBaseConfig{}),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			user := "player-1001"
			plain, err := iss.Issue(ctx, issuers.Request{UserID: user})
			if err != nil {
				t.Fatal(err)
			}
			unit := time.Second
			if name == "cloudbase" {
				unit = time.Millisecond
			}
			// Later than the default expiry: no change.
			tok, err := iss.Issue(ctx, issuers.Request{UserID: user, NotAfter: plain.ExpiresAt.Add(time.Hour)})
			if err != nil || !tok.ExpiresAt.Equal(plain.ExpiresAt) {
				t.Errorf("a later NotAfter changed the expiry: %v %v", tok.ExpiresAt, err)
			}
			// Earlier: cut to it, in whole units.
			notAfter := plain.IssuedAt.Add(90*time.Second + 500*time.Microsecond)
			tok, err = iss.Issue(ctx, issuers.Request{UserID: user, NotAfter: notAfter})
			if err != nil {
				t.Fatal(err)
			}
			if want := notAfter.Truncate(unit); !tok.ExpiresAt.Equal(want) || tok.ExpiresAt.After(notAfter) {
				t.Errorf("ExpiresAt %v, want %v", tok.ExpiresAt, want)
			}
			// With a TTL asked for that is longer than what is left.
			tok, err = iss.Issue(ctx, issuers.Request{UserID: user, TTL: 5 * time.Minute, NotAfter: notAfter})
			if err != nil || tok.ExpiresAt.After(notAfter) {
				t.Errorf("with a TTL: %v %v", tok.ExpiresAt, err)
			}
			// Less than a second left, or already past.
			for _, na := range []time.Time{plain.IssuedAt.Add(999 * time.Millisecond), plain.IssuedAt.Add(-time.Hour)} {
				if _, err := iss.Issue(ctx, issuers.Request{UserID: user, NotAfter: na}); !errors.Is(err, issuers.ErrBadRequest) {
					t.Errorf("NotAfter %v after issue: %v, want a bad request", na.Sub(plain.IssuedAt), err)
				}
			}
		})
	}
}

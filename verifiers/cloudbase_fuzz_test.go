package verifiers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gameauth/caddy-gameauth/verifiers"
)

// FuzzCloudBaseVerify feeds arbitrary tickets to the CloudBase verifier,
// seeded with the SDK-made tickets of testdata/cloudbase. It checks that
// Verify never panics, that a nil error comes with a well-formed identity
// (non-empty Subject, the configured env and key, exp after now), that an
// error carries one of the fixed reasons and nothing else, and that
// verifying is deterministic.
func FuzzCloudBaseVerify(f *testing.F) {
	fx := cbLoadFixture(f)
	now := time.UnixMilli(fx.NowMs)
	v := cbFixtureVerifier(f, fx, now)
	for _, tk := range fx.Tickets {
		f.Add(tk.Ticket)
		kid, jwtPart, _ := strings.Cut(tk.Ticket, "/@@/")
		parts := strings.Split(jwtPart, ".")
		f.Add(jwtPart)
		f.Add(kid + "/@@/" + parts[0] + "." + parts[1] + ".")
		f.Add(kid + "/@@/eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".")
		f.Add(kid + "/@@/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + parts[1] + "." + parts[2][:43])
	}
	f.Add("")
	f.Add("/@@/")
	f.Add("x/@@/..")
	f.Add(fx.KeyID + "/@@/e30.e30.")

	f.Fuzz(func(t *testing.T, ticket string) {
		id, err := v.Verify(context.Background(), ticket)
		id2, err2 := v.Verify(context.Background(), ticket)
		if (err == nil) != (err2 == nil) || verifiers.Reason(err) != verifiers.Reason(err2) || id.Subject != id2.Subject {
			t.Fatalf("Verify is not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, verifiers.ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			if !cbReasons[verifiers.Reason(err)] || err.Error() != "invalid token: "+verifiers.Reason(err) {
				t.Fatalf("error %q is not a fixed reason", err)
			}
			if id.Subject != "" || id.Claims != nil {
				t.Fatalf("identity %+v returned with error %v", id, err)
			}
			return
		}
		if id.Subject == "" || id.Provider != "cloudbase" {
			t.Fatalf("nil error with identity %+v", id)
		}
		if len(id.Subject) < 4 || len(id.Subject) > 32 || strings.Contains(id.Subject, "/@@/") {
			t.Fatalf("accepted uid %q", id.Subject)
		}
		if env, _ := id.Claim("env_id"); env != fx.EnvID {
			t.Fatalf("env_id %q", env)
		}
		if kid, _ := id.Claim("key_id"); !strings.HasPrefix(ticket, kid+"/@@/") || kid != fx.KeyID {
			t.Fatalf("key_id %q", kid)
		}
		if !id.Expires.After(now) {
			t.Fatalf("accepted a ticket expiring at %v", id.Expires)
		}
	})
}

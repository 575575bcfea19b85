package caddyauth_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/certmagic"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gameauth/caddy-gameauth/bans"
)

// These tests run the ban list through a real in-process Caddy whose
// gameauth app keeps it in a file-system storage directory. The changes
// are written to that directory by another replica, as another Caddy
// instance sharing the storage would write them.

const bansCaddyfile = `
{
	admin off
	persist_config off
	log {
		level ERROR
	}
	gameauth {
		sync_interval 1s
		storage file_system {STORAGE}
	}
}
{ADDR} {
	route /tokens/zego {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		gameauth_issuer zego {
			app_id 1234567890
			secret {env.ZEGO_SERVER_SECRET}
		}
	}
	route /api/* {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`

// startBansCaddy runs bansCaddyfile on storage dir and returns the base URL.
func startBansCaddy(t *testing.T, dir string, up *upstream) string {
	t.Helper()
	port := freePort(t)
	cf := strings.NewReplacer("{ADDR}", fmt.Sprintf("http://127.0.0.1:%d", port),
		"{UPSTREAM}", up.addr(), "{STORAGE}", dir).Replace(bansCaddyfile)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v", err)
	}
	startCaddy(t, cfg)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// otherInstance is the list as another Caddy instance on the same storage
// sees and changes it.
func otherInstance(t *testing.T, dir string) *bans.Replica {
	t.Helper()
	r := bans.NewReplica(&certmagic.FileStorage{Path: dir}, bans.Config{})
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitStatus polls until url answers want, for at most bound (the
// propagation bound under test, plus slack for a loaded machine).
func waitStatus(t *testing.T, url, tok string, want int, bound time.Duration) response {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		r := get(t, url, bearer(tok))
		if r.status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d after %s, want %d (%s)", url, r.status, bound, want, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tokenIssuedAt(t *testing.T, sub string, iat time.Time) string {
	return seayooToken(t, sub, func(c jwt.MapClaims) { c["iat"] = iat.Unix() })
}

func TestBansThroughCaddy(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("ZEGO_SERVER_SECRET", zegoSecret)
	dir := t.TempDir()
	up := newUpstream(t)
	base := startBansCaddy(t, dir, up)
	other := otherInstance(t, dir)
	ctx := context.Background()
	// sync_interval 1s: a change holds within 2s; 8s leaves slack for a
	// machine running the race detector on two cores.
	const bound = 8 * time.Second

	cheater := seayooToken(t, "1001", nil)
	bystander := seayooToken(t, "1002", nil)
	if r := get(t, base+"/api/x", bearer(cheater)); r.status != 200 {
		t.Fatalf("before the ban: %d %s", r.status, r.body)
	}
	up.take()

	until := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := other.Ban(ctx, "seayoo", "1001", until, "cheating", "test"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/api/x", cheater, 403, bound)
	up.take() // the requests that passed while the ban travelled
	r := get(t, base+"/api/x", bearer(cheater))
	if r.status != 403 {
		t.Fatalf("banned: %d, want 403", r.status)
	}
	if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `error_description="banned"`) {
		t.Errorf("challenge %q, want insufficient_scope and banned", ch)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 3500 || ra > 3601 {
		t.Errorf("Retry-After %q, want about 3600 (the ban's end)", r.header.Get("Retry-After"))
	}
	if seen := up.take(); len(seen) != 0 {
		t.Errorf("the upstream received %d requests of a banned player", len(seen))
	}
	if r := get(t, base+"/api/x", bearer(bystander)); r.status != 200 {
		t.Errorf("another player: %d, want 200", r.status)
	}
	// No token for the banned player (the gameauth handler in front of the
	// issuer refuses first; TestIssuerRefusesListed checks the issuer's own
	// check).
	r = do(t, "POST", base+"/tokens/zego", bearer(cheater), `{"room_id":"r1"}`)
	if r.status != 403 || strings.Contains(r.body, "token") {
		t.Errorf("issuer for a banned player: %d %s, want 403 and no token", r.status, r.body)
	}
	if r := do(t, "POST", base+"/tokens/zego", bearer(bystander), `{"room_id":"r1"}`); r.status != 200 {
		t.Errorf("issuer for another player: %d %s", r.status, r.body)
	}

	// A ban for ever has no Retry-After.
	if err := other.Ban(ctx, "seayoo", "1002", time.Time{}, "", "test"); err != nil {
		t.Fatal(err)
	}
	r = waitStatus(t, base+"/api/x", bystander, 403, bound)
	if ra := r.header.Get("Retry-After"); ra != "" {
		t.Errorf("a ban for ever: Retry-After %q, want none", ra)
	}

	// Unban lifts it.
	if err := other.Unban(ctx, "seayoo", "1001", "test"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, base+"/api/x", cheater, 200, bound)

	// Log out everywhere: tokens issued before refused, a new one accepted.
	before := time.Now().Truncate(time.Second)
	old := tokenIssuedAt(t, "1001", before.Add(-time.Minute))
	fresh := tokenIssuedAt(t, "1001", before.Add(time.Second))
	if err := other.Revoke(ctx, "seayoo", "1001", before, "test"); err != nil {
		t.Fatal(err)
	}
	r = waitStatus(t, base+"/api/x", old, 401, bound)
	if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, `error_description="token revoked"`) {
		t.Errorf("revoked: challenge %q", ch)
	}
	if r := get(t, base+"/api/x", bearer(fresh)); r.status != 200 {
		t.Errorf("a token issued after the revocation: %d %s, want 200", r.status, r.body)
	}
}

// TestBansSurviveRestart: a ban in storage holds from the first request
// after Caddy starts (the app reads the list before it serves), and after
// a config reload.
func TestBansSurviveRestart(t *testing.T) {
	t.Setenv("SEAYOO_SECRET_KEY", seayooSecret)
	t.Setenv("ZEGO_SERVER_SECRET", zegoSecret)
	dir := t.TempDir()
	other := otherInstance(t, dir)
	if err := other.Ban(context.Background(), "seayoo", "2001", time.Time{}, "cheating", "test"); err != nil {
		t.Fatal(err)
	}
	up := newUpstream(t)
	tok := seayooToken(t, "2001", nil)
	for round := range 2 {
		t.Run(fmt.Sprint("start ", round), func(t *testing.T) {
			base := startBansCaddy(t, dir, up)
			if r := get(t, base+"/api/x", bearer(tok)); r.status != 403 {
				t.Errorf("first request after start: %d, want 403", r.status)
			}
		})
	}
	if n := len(up.take()); n != 0 {
		t.Errorf("the upstream received %d requests of a banned player", n)
	}
}

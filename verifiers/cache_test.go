package verifiers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// countingVerifier accepts tokens that start with "ok-" until exp, and
// counts its calls.
type countingVerifier struct {
	calls atomic.Int64
	exp   time.Time
	now   func() time.Time
}

func (v *countingVerifier) Verify(_ context.Context, token string) (Identity, error) {
	v.calls.Add(1)
	if !strings.HasPrefix(token, "ok-") {
		return Identity{}, Invalid("bad signature")
	}
	if !v.now().Before(v.exp) {
		return Identity{}, Invalid("token expired")
	}
	return Identity{
		Provider: "test",
		Subject:  token[3:],
		Claims:   append(make([]Claim, 0, 8), Claim{"idp", "x"}),
		Expires:  v.exp,
	}, nil
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newCountingCache(t *testing.T, size int) (*Cached, *countingVerifier, *testClock) {
	t.Helper()
	clk := &testClock{t: seayooTestNow}
	v := &countingVerifier{exp: seayooTestNow.Add(time.Hour), now: clk.now}
	c, err := NewCached(v, CacheConfig{Size: size, Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return c, v, clk
}

func TestCachedAnswersAgainWithoutVerifying(t *testing.T) {
	c, v, _ := newCountingCache(t, 100)
	ctx := context.Background()
	first, err := c.Verify(ctx, "ok-alice")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		id, err := c.Verify(ctx, "ok-alice")
		if err != nil || id.Subject != "alice" || len(id.Claims) != 1 || !id.Expires.Equal(first.Expires) {
			t.Fatalf("cached answer = %+v, %v; want alice", id, err)
		}
	}
	if got := v.calls.Load(); got != 1 {
		t.Fatalf("wrapped verifier called %d times for one token seen 6 times, want 1", got)
	}
	if id, err := c.Verify(ctx, "ok-bob"); err != nil || id.Subject != "bob" {
		t.Fatalf("another token = %+v, %v; want bob", id, err)
	}
	if s := c.Stats(); s.Hits != 5 || s.Misses != 2 || s.Entries != 2 {
		t.Fatalf("stats = %+v, want 5 hits, 2 misses, 2 entries", s)
	}
}

func TestCachedNeverCachesErrors(t *testing.T) {
	c, v, _ := newCountingCache(t, 100)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := c.Verify(ctx, fmt.Sprintf("forged-%d", i%10)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("forged token: err = %v, want ErrInvalidToken", err)
		}
	}
	if got := v.calls.Load(); got != 1000 {
		t.Fatalf("wrapped verifier called %d times for 1000 refused tokens, want 1000 (refusals are not cached)", got)
	}
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("refused tokens took %d entries, want 0", s.Entries)
	}
}

func TestCachedStopsAtExpiry(t *testing.T) {
	c, v, clk := newCountingCache(t, 100)
	ctx := context.Background()
	if _, err := c.Verify(ctx, "ok-alice"); err != nil {
		t.Fatal(err)
	}
	clk.set(v.exp.Add(-time.Millisecond))
	if _, err := c.Verify(ctx, "ok-alice"); err != nil {
		t.Fatalf("1 ms before expiry: %v", err)
	}
	if got := v.calls.Load(); got != 1 {
		t.Fatalf("calls = %d before expiry, want 1", got)
	}
	clk.set(v.exp)
	if _, err := c.Verify(ctx, "ok-alice"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("at expiry: err = %v, want the wrapped verifier's refusal", err)
	}
	if got := v.calls.Load(); got != 2 {
		t.Fatalf("calls = %d after expiry, want 2 (the cache must ask again)", got)
	}
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("expired entry kept: %+v", s)
	}
}

func TestCachedClockStepsBack(t *testing.T) {
	c, v, clk := newCountingCache(t, 100)
	ctx := context.Background()
	if _, err := c.Verify(ctx, "ok-alice"); err != nil {
		t.Fatal(err)
	}
	clk.set(seayooTestNow.Add(-time.Second))
	if _, err := c.Verify(ctx, "ok-alice"); err != nil {
		t.Fatal(err)
	}
	if got := v.calls.Load(); got != 2 {
		t.Fatalf("calls = %d, want 2: a time before the verification is not answered from the cache", got)
	}
}

func TestCachedSkipsIdentitiesWithoutExpiry(t *testing.T) {
	calls := 0
	v := verifierFunc(func(context.Context, string) (Identity, error) {
		calls++
		return Identity{Provider: "test", Subject: "alice"}, nil
	})
	c, err := NewCached(v, CacheConfig{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Verify(context.Background(), "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Fatalf("calls = %d, want 3: an identity without expiry is not cached", calls)
	}
}

type verifierFunc func(context.Context, string) (Identity, error)

func (f verifierFunc) Verify(ctx context.Context, token string) (Identity, error) {
	return f(ctx, token)
}

func TestCachedIsBounded(t *testing.T) {
	for _, size := range []int{1, 3, 64, 1000} {
		c, v, _ := newCountingCache(t, size)
		ctx := context.Background()
		for i := range 20 * size {
			if _, err := c.Verify(ctx, fmt.Sprintf("ok-%d", i)); err != nil {
				t.Fatal(err)
			}
			if s := c.Stats(); s.Entries > size {
				t.Fatalf("size %d: %d entries after %d tokens", size, s.Entries, i+1)
			}
		}
		// The newest token is always there.
		before := v.calls.Load()
		if _, err := c.Verify(ctx, fmt.Sprintf("ok-%d", 20*size-1)); err != nil {
			t.Fatal(err)
		}
		if v.calls.Load() != before {
			t.Fatalf("size %d: the token just verified was evicted", size)
		}
	}
}

func TestCachedPassesLongAndEmptyTokensThrough(t *testing.T) {
	c, v, _ := newCountingCache(t, 10)
	ctx := context.Background()
	long := "ok-" + strings.Repeat("a", MaxTokenLength)
	for range 2 {
		c.Verify(ctx, long) //nolint:errcheck // only the calls are counted
		c.Verify(ctx, "")   //nolint:errcheck
	}
	if got := v.calls.Load(); got != 4 {
		t.Fatalf("calls = %d, want 4: long and empty tokens go to the verifier every time", got)
	}
}

func TestCachedClaimsAppendDoesNotLeak(t *testing.T) {
	c, _, _ := newCountingCache(t, 10)
	ctx := context.Background()
	id, err := c.Verify(ctx, "ok-alice")
	if err != nil {
		t.Fatal(err)
	}
	_ = append(id.Claims, Claim{"evil", "1"})
	id2, _ := c.Verify(ctx, "ok-alice")
	again := append(id2.Claims, Claim{"other", "2"})
	id3, _ := c.Verify(ctx, "ok-alice")
	if len(id3.Claims) != 1 || id3.Claims[0] != (Claim{"idp", "x"}) || again[1].Name != "other" {
		t.Fatalf("appending to a returned identity changed the cache: %+v", id3.Claims)
	}
}

func TestNewCachedRejectsBadConfig(t *testing.T) {
	if _, err := NewCached(nil, CacheConfig{Size: 10}); err == nil {
		t.Error("nil verifier accepted")
	}
	for _, size := range []int{0, -1, 1<<24 + 1, 1 << 30} {
		if _, err := NewCached(&countingVerifier{}, CacheConfig{Size: size}); err == nil {
			t.Errorf("Size %d accepted", size)
		}
	}
}

// TestCachedSeayoo runs the real Seayoo verifier behind the cache: same
// answers as without it, a token whose payload is changed under a cached
// signature is still refused, and expiry (with leeway) is the verifier's.
func TestCachedSeayoo(t *testing.T) {
	clk := &testClock{t: seayooTestNow}
	cfg := seayooTestConfig()
	cfg.Clock = clk.now
	cfg.Leeway = time.Minute
	plain := seayooMustNew(t, cfg)
	c, err := NewCached(plain, CacheConfig{Size: 100, Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := seayooHS256(t, seayooTestClaims(nil))
	for range 3 {
		want, err1 := plain.Verify(ctx, good)
		got, err2 := c.Verify(ctx, good)
		if err1 != nil || err2 != nil || got.Subject != want.Subject || fmt.Sprint(got.Claims) != fmt.Sprint(want.Claims) || !got.Expires.Equal(want.Expires) {
			t.Fatalf("cached %+v, %v; plain %+v, %v", got, err2, want, err1)
		}
	}

	// Same signature, another payload: not the cached token.
	parts := strings.Split(good, ".")
	other := seayooHS256(t, seayooTestClaims(func(m jwt.MapClaims) { m["sub"] = "1" }))
	forged := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
	if _, err := c.Verify(ctx, forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("payload swapped under a cached signature: err = %v, want ErrInvalidToken", err)
	}

	// A token the verifier accepts only thanks to leeway is not cached
	// (its Expires is past), and is refused once the leeway is over.
	exp := seayooTestNow.Add(7 * 24 * time.Hour)
	clk.set(exp.Add(30 * time.Second))
	if _, err := c.Verify(ctx, good); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.set(exp.Add(time.Minute))
	if _, err := c.Verify(ctx, good); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after leeway: err = %v, want ErrInvalidToken", err)
	}
}

func TestCachedConcurrent(t *testing.T) {
	c, v, _ := newCountingCache(t, 50)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				tok := fmt.Sprintf("ok-%d", (i*7+g)%100)
				id, err := c.Verify(ctx, tok)
				if err != nil || id.Subject != tok[3:] {
					t.Errorf("%s: %+v, %v", tok, id, err)
					return
				}
				if _, err := c.Verify(ctx, "bad"); err == nil {
					t.Error("bad token accepted")
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := c.Stats(); s.Entries > 50 || s.Hits+s.Misses != 8*2000*2 || v.calls.Load() != int64(s.Misses) {
		t.Fatalf("stats %+v, calls %d", s, v.calls.Load())
	}
}

func TestCachedClose(t *testing.T) {
	c, v, _ := newCountingCache(t, 100)
	ctx := context.Background()
	for i := range 10 {
		if _, err := c.Verify(ctx, fmt.Sprintf("ok-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("%d entries after Close, want 0", s.Entries)
	}
	before := v.calls.Load()
	for range 3 {
		id, err := c.Verify(ctx, "ok-0")
		if err != nil || id.Subject != "0" {
			t.Fatalf("after Close: %+v, %v", id, err)
		}
		if _, err := c.Verify(ctx, "bad"); err == nil {
			t.Fatal("bad token accepted after Close")
		}
	}
	if got := v.calls.Load() - before; got != 6 {
		t.Fatalf("after Close the verifier was called %d times for 6 tokens, want 6 (no caching)", got)
	}
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("Close did not stop caching: %+v", s)
	}
	c.Close() // twice is fine
}

func TestCachedCloseConcurrent(t *testing.T) {
	c, _, _ := newCountingCache(t, 1000)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				tok := fmt.Sprintf("ok-%d-%d", g, i%300)
				if id, err := c.Verify(ctx, tok); err != nil || id.Subject != tok[3:] {
					t.Errorf("%s: %+v, %v", tok, id, err)
					return
				}
			}
		}()
	}
	c.Close()
	wg.Wait()
	if s := c.Stats(); s.Entries != 0 {
		t.Fatalf("%d entries after Close under load", s.Entries)
	}
}

package verifiers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkSeayooVerifyCached is Seayoo.Verify behind Cached on a token
// seen before: one SHA-256 of the token and a map lookup.
func BenchmarkSeayooVerifyCached(b *testing.B) {
	token, cfg := seayooBenchSetup(b)
	c, err := NewCached(seayooMustNew(b, cfg), CacheConfig{Size: 10000, Clock: cfg.Clock})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	if s := c.Stats(); s.Misses != 1 {
		b.Fatalf("stats %+v: the token was verified again", s)
	}
}

// BenchmarkSeayooVerifyCachedFirstSeen is Seayoo.Verify behind a full
// Cached on tokens it has not seen: lookup, verification, eviction and
// insertion. It cycles through 4096 distinct tokens, 256 times what the
// cache holds.
func BenchmarkSeayooVerifyCachedFirstSeen(b *testing.B) {
	cfg := seayooTestConfig()
	tokens := make([]string, 4096)
	for i := range tokens {
		tokens[i] = seayooHS256(b, seayooTestClaims(func(m jwt.MapClaims) { m["sub"] = fmt.Sprint(1e15 + i) }))
	}
	c, err := NewCached(seayooMustNew(b, cfg), CacheConfig{Size: 16, Clock: cfg.Clock})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(ctx, tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if s := c.Stats(); s.Hits != 0 {
		b.Fatalf("stats %+v: a token was answered from the cache", s)
	}
}

// BenchmarkSHA256Floor is the cache key of a 423-byte token: its SHA-256.
func BenchmarkSHA256Floor(b *testing.B) {
	token, _ := seayooBenchSetup(b)
	in := []byte(token)
	var sum [sha256.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		sum = sha256.Sum256(in)
	}
	_ = sum
}

// BenchmarkCachedMemory fills a cache with 10 000 identities of the
// documentation example's shape (9 claims, 423-byte token) and reports the
// heap it holds per entry (metric B/entry): what cache_size costs.
func BenchmarkCachedMemory(b *testing.B) {
	cfg := seayooTestConfig()
	const n = 10000
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = seayooHS256(b, seayooTestClaims(func(m jwt.MapClaims) { m["sub"] = fmt.Sprint(1e15 + i) }))
	}
	v := seayooMustNew(b, cfg)
	ctx := context.Background()
	var perEntry float64
	for b.Loop() {
		before := heapInUse()
		c, err := NewCached(v, CacheConfig{Size: 4 * n, Clock: cfg.Clock}) // room for all n
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range tokens {
			if _, err := c.Verify(ctx, t); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		if s := c.Stats(); s.Entries != n {
			b.Fatalf("%d entries, want %d", s.Entries, n)
		}
		perEntry = float64(after-before) / n
		runtime.KeepAlive(c)
	}
	b.ReportMetric(perEntry, "B/entry")
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

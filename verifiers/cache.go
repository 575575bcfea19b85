package verifiers

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/internal/tokenhash"
)

// This file holds Cached: a bounded cache of verified tokens in front of a
// Verifier whose answer depends only on the token, its own immutable
// configuration and the time.
//
// Keys are the SHA-256 of the token: the token itself is never stored, and a
// key can only be hit by the very token that was verified. Only accepted
// tokens are stored, and only until their own expiry, so invalid or forged
// tokens (whatever their number) never take memory, and a cached answer
// never outlives what the wrapped verifier would say. Entries live in
// shards, each a map under its own mutex with a fixed capacity; when a
// shard is full, the entry closest to its expiry among a few sampled ones
// makes room. There is no background goroutine.

const (
	// cacheMaxShards bounds the number of shards; fewer are used for
	// small caches so that no shard holds less than one entry.
	cacheMaxShards = 32
	// cacheEvictSample is how many entries are looked at to choose a
	// victim when a shard is full.
	cacheEvictSample = 8
	// cacheMaxSize bounds CacheConfig.Size: about 1 KiB per entry.
	cacheMaxSize = 1 << 24
)

// CacheConfig configures a Cached verifier.
type CacheConfig struct {
	// Size caps the number of verified tokens remembered, at least 1 and
	// at most 16777216 (1<<24).
	// Each entry holds the identity (about 0.5 to 1 KiB for a typical
	// token), never the token. Required.
	Size int
	// Clock returns the current time. Default time.Now. It should be the
	// wrapped verifier's clock.
	Clock Clock
}

// Cached remembers, for each token its Verifier accepted, the identity it
// returned, until the identity's Expires: a token seen again is answered
// with one SHA-256 and a map lookup instead of a signature check and a
// claims parse.
//
// Wrap only a verifier whose acceptance of a token, once given, holds until
// Identity.Expires: one that depends only on the token, its immutable
// configuration and a clock moving forward (Seayoo, Twilio, Zego and
// CloudBase are such verifiers; TapTap, which asks a remote service, is
// not). Identities with a zero Expires are not cached. Errors are never
// cached. If the wall clock steps back before the time a token was
// verified, the entry is dropped and the token verified again.
//
// The Claims slice of an identity returned by Verify is shared with the
// cache: callers must not modify its elements (appending is safe: its
// capacity equals its length). Cached is safe for concurrent use.
type Cached struct {
	v        Verifier
	now      Clock
	shards   []cacheShard
	perShard int
	closed   atomic.Bool
}

type cacheShard struct {
	mu     sync.Mutex
	m      map[tokenhash.Key]cacheEntry
	hits   uint64
	misses uint64
	_      [64]byte // keeps the mutexes of neighbouring shards apart
}

// cacheEntry is one accepted token: its identity, valid for hits from the
// time it was verified to its expiry, both in Unix milliseconds.
type cacheEntry struct {
	id          Identity
	from, until int64
}

// CacheStats are counters of a Cached verifier.
type CacheStats struct {
	// Hits counts tokens answered from the cache.
	Hits uint64
	// Misses counts tokens passed to the wrapped verifier.
	Misses uint64
	// Entries is the number of tokens remembered now.
	Entries int
}

// NewCached wraps v with a cache of at most cfg.Size verified tokens.
func NewCached(v Verifier, cfg CacheConfig) (*Cached, error) {
	if v == nil {
		return nil, errors.New("cache: a verifier is required")
	}
	if cfg.Size < 1 || cfg.Size > cacheMaxSize {
		return nil, check.Field("cache", "Size", "must be between 1 and "+strconv.Itoa(cacheMaxSize))
	}
	n := 1
	for n*2 <= cacheMaxShards && n*2 <= cfg.Size {
		n *= 2
	}
	c := &Cached{
		v:        v,
		now:      clockOrNow(cfg.Clock),
		shards:   make([]cacheShard, n),
		perShard: cfg.Size / n,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[tokenhash.Key]cacheEntry)
	}
	return c, nil
}

// Verify returns the remembered identity of a token accepted before and not
// yet expired; otherwise it asks the wrapped verifier and remembers its
// answer if it is an acceptance with an expiry in the future.
func (c *Cached) Verify(ctx context.Context, token string) (Identity, error) {
	if token == "" || len(token) > MaxTokenLength || c.closed.Load() {
		return c.v.Verify(ctx, token)
	}
	key := tokenhash.Sum(token)
	sh := &c.shards[binary.LittleEndian.Uint64(key[:8])&uint64(len(c.shards)-1)]
	now := c.now().UnixMilli()

	sh.mu.Lock()
	if e, ok := sh.m[key]; ok {
		if e.from <= now && now < e.until {
			sh.hits++
			sh.mu.Unlock()
			return e.id, nil
		}
		delete(sh.m, key)
	}
	sh.misses++
	sh.mu.Unlock()

	id, err := c.v.Verify(ctx, token)
	if err != nil || id.Expires.IsZero() {
		return id, err
	}
	until := id.Expires.UnixMilli()
	if now >= until {
		return id, nil
	}
	id.Claims = id.Claims[:len(id.Claims):len(id.Claims)]
	sh.mu.Lock()
	if sh.m == nil { // closed meanwhile
		sh.mu.Unlock()
		return id, nil
	}
	if _, ok := sh.m[key]; !ok && len(sh.m) >= c.perShard {
		sh.evict(now)
	}
	sh.m[key] = cacheEntry{id: id, from: now, until: until}
	sh.mu.Unlock()
	return id, nil
}

// evict removes one entry: the first unusable one met, else the one that
// expires first among a few, taken in the map's random iteration order.
// The caller holds sh.mu.
func (sh *cacheShard) evict(now int64) {
	var victim tokenhash.Key
	best, seen := int64(0), 0
	for k, e := range sh.m {
		if now < e.from || now >= e.until {
			delete(sh.m, k)
			return
		}
		if seen == 0 || e.until < best {
			victim, best = k, e.until
		}
		if seen++; seen == cacheEvictSample {
			break
		}
	}
	if seen > 0 {
		delete(sh.m, victim)
	}
}

// Close empties the cache and stops it: later calls go straight to the
// wrapped verifier. Call it when the verifier is retired (a config
// reload), so that the memory of its entries is freed even while
// something still holds the verifier. It is safe to call concurrently
// with Verify and more than once.
func (c *Cached) Close() {
	c.closed.Store(true)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
}

// Stats returns the cache's counters.
func (c *Cached) Stats() CacheStats {
	var s CacheStats
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		s.Hits += sh.hits
		s.Misses += sh.misses
		s.Entries += len(sh.m)
		sh.mu.Unlock()
	}
	return s
}

package verifiers

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/tokenhash"
)

// This file holds the bounded answer cache of the TapTap verifier.
//
// Keys are the SHA-256 of the session token: the token itself is never stored.
// Positive answers ("this token is user X") and negative answers ("LeanCloud
// does not know this token") live in two LRU lists that share one map. Each
// list has its own capacity, so a flood of random (negative) tokens can only
// evict other negative answers and never pushes the known users out of the
// cache. Every operation is O(1); there is no background goroutine: an
// expired entry is dropped when it is looked up, and otherwise ages out
// through LRU eviction, so memory stays bounded by the capacity.

// tapKey is the cache key: the SHA-256 of a session token.
type tapKey = tokenhash.Key

const (
	tapPositive = 0
	tapNegative = 1
)

// tapEntry is one cached answer, linked into the LRU list of its kind.
type tapEntry struct {
	key        tapKey
	kind       int      // tapPositive or tapNegative
	id         Identity // positive answers only; its Claims are never modified once stored
	added      time.Time
	expires    time.Time
	prev, next *tapEntry
}

// tapList is an intrusive doubly linked list with a sentinel root:
// root.next is the most recently used entry, root.prev the least.
type tapList struct {
	root tapEntry
	n    int
}

func (l *tapList) init() {
	l.root.next = &l.root
	l.root.prev = &l.root
	l.n = 0
}

func (l *tapList) pushFront(e *tapEntry) {
	e.prev = &l.root
	e.next = l.root.next
	l.root.next.prev = e
	l.root.next = e
	l.n++
}

func (l *tapList) remove(e *tapEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
	l.n--
}

func (l *tapList) moveToFront(e *tapEntry) {
	if l.root.next == e {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev = &l.root
	e.next = l.root.next
	l.root.next.prev = e
	l.root.next = e
}

func (l *tapList) back() *tapEntry {
	if l.n == 0 {
		return nil
	}
	return l.root.prev
}

// tapCache is a bounded, O(1), mutex-guarded LRU cache of verification
// answers. The zero value is not usable; call newTapCache.
type tapCache struct {
	mu        sync.Mutex
	m         map[tapKey]*tapEntry
	lists     [2]tapList
	caps      [2]int
	evictions atomic.Uint64
}

// newTapCache returns a cache holding at most size entries: a quarter of
// them (rounded down) for negative answers, the rest for positive ones.
// With size < 4 negative answers are not cached at all.
func newTapCache(size int) *tapCache {
	c := &tapCache{}
	c.caps[tapNegative] = size / 4
	c.caps[tapPositive] = size - c.caps[tapNegative]
	c.m = make(map[tapKey]*tapEntry, min(size, 1024))
	c.lists[tapPositive].init()
	c.lists[tapNegative].init()
	return c
}

// get returns the answer cached for key at time now. An entry is live from
// the time it was added (so a clock stepping backwards invalidates it too)
// until its expiry; a dead entry is removed and reported as a miss. The
// returned Identity shares its Claims array with the cache: callers must copy
// it before handing it out.
func (c *tapCache) get(key *tapKey, now time.Time) (id Identity, kind int, ok bool) {
	c.mu.Lock()
	e := c.m[*key]
	if e == nil {
		c.mu.Unlock()
		return Identity{}, 0, false
	}
	if now.Before(e.added) || !now.Before(e.expires) {
		c.lists[e.kind].remove(e)
		delete(c.m, *key)
		c.mu.Unlock()
		return Identity{}, 0, false
	}
	c.lists[e.kind].moveToFront(e)
	id, kind = e.id, e.kind
	c.mu.Unlock()
	return id, kind, true
}

// put stores an answer for key, valid from now until now+ttl, evicting the
// least recently used entry of the same kind when that kind is full.
func (c *tapCache) put(key *tapKey, kind int, id Identity, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil { // released by Close
		return
	}
	if e := c.m[*key]; e != nil {
		c.lists[e.kind].remove(e)
		delete(c.m, *key)
	}
	l := &c.lists[kind]
	if c.caps[kind] <= 0 {
		return
	}
	var e *tapEntry
	if l.n >= c.caps[kind] {
		// Reuse the evicted node: no allocation once the cache is full.
		e = l.back()
		l.remove(e)
		delete(c.m, e.key)
		c.evictions.Add(1)
		*e = tapEntry{}
	} else {
		e = new(tapEntry)
	}
	e.key = *key
	e.kind = kind
	e.id = id
	e.added = now
	e.expires = now.Add(ttl)
	l.pushFront(e)
	c.m[*key] = e
}

// remove drops the entry of key, if there is one.
func (c *tapCache) remove(key *tapKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[*key]; e != nil { // c.m is nil once released
		c.lists[e.kind].remove(e)
		delete(c.m, *key)
	}
}

// len returns the number of entries, live or not yet collected.
func (c *tapCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// release drops every entry; later puts are ignored and gets miss.
func (c *tapCache) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.lists[tapPositive].init()
	c.lists[tapNegative].init()
}

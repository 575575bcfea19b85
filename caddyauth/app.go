package caddyauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/bans"
)

func init() {
	caddy.RegisterModule(App{})
}

// Bounds and defaults of the gameauth app.
const (
	defaultSyncInterval    = 5 * time.Second
	minSyncInterval        = time.Second
	maxSyncInterval        = 5 * time.Minute
	maxFailClosedAfter     = 24 * time.Hour
	defaultBanEntries      = 4_000_000
	maxBanEntries          = 10_000_000
	defaultRevocationTTL   = 30 * 24 * time.Hour
	minRevocationTTL       = 24 * time.Hour
	maxRevocationTTL       = 10 * 365 * 24 * time.Hour
	defaultMaxLiveSessions = 100_000
	maxMaxLiveSessions     = 10_000_000
	// defaultMaxLiveSessionsPerPlayer is the default share of one player
	// (lower when max_live_sessions is).
	defaultMaxLiveSessionsPerPlayer = 16
	maxMaxLiveSessionsPerPlayer     = 10_000
	// firstSyncTimeout bounds the sync Start waits for.
	firstSyncTimeout = 15 * time.Second
	// compactAfter is the number of settled change records in storage (ten
	// minutes old: every instance has read them) from which an instance
	// folds them into a snapshot generation; compactEvery spaces its
	// attempts.
	compactAfter = 1000
	compactEvery = 10 * time.Minute
	// staleWarnEvery spaces the Warn logs of a failing sync.
	staleWarnEvery = time.Minute
)

// App is the gameauth app (apps.gameauth): the ban and revocation list
// every gameauth handler and issuer of the process enforces, and the
// registry of live connections that end when the right to them ends.
//
// The list is kept in Caddy's storage (or the app's own storage module):
// every instance configured with the same storage enforces the same list,
// syncing every sync_interval, so a change made on any instance holds on
// all of them within twice that. A config without the app gets it with
// its defaults: bans are always enforced.
type App struct {
	// SyncInterval is how often the list is read again from storage.
	// From 1s to 5m. Default: 5s.
	SyncInterval caddy.Duration `json:"sync_interval,omitempty"`

	// StorageRaw is the storage module that holds the list. Instances that
	// share it share the list. Default: Caddy's configured storage.
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=caddy.storage inline_key=module"`

	// FailClosedAfter, when set, makes every gameauth handler and issuer
	// refuse with 503 "ban list unavailable" once the last complete sync is
	// older than this: a stale list then stops everyone rather than let a
	// player banned meanwhile in. From twice sync_interval to 24h. Default:
	// 0, the last known list stays in force however stale (a metric and a
	// Warn log say how stale).
	FailClosedAfter caddy.Duration `json:"fail_closed_after,omitempty"`

	// MaxEntries bounds the (provider, subject) pairs held: bans,
	// revocations and recent unbans. Changes for new pairs beyond it are
	// refused and logged. From 1 to 10,000,000. Default: 4,000,000.
	MaxEntries int `json:"max_entries,omitempty"`

	// RevocationTTL is how long a revocation is kept after its time: set it
	// to at least the longest token lifetime of the configured providers
	// (Seayoo: 7 days). From 24h to 87600h. Default: 720h (30 days).
	RevocationTTL caddy.Duration `json:"revocation_ttl,omitempty"`

	// MaxLiveSessions bounds the long-lived connections (WebSockets,
	// server-sent event streams) tracked so that they can be closed when
	// their token expires or their player is banned; beyond it a new one is
	// refused with 503. From 1 to 10,000,000. Default: 100,000.
	MaxLiveSessions int `json:"max_live_sessions,omitempty"`

	// MaxLiveSessionsPerPlayer bounds the live connections of one player
	// (provider and subject, whatever its tokens), so that one player
	// cannot take max_live_sessions from everyone; beyond it the player's
	// new one is refused with 503, other players are not affected. From 1
	// to 10,000, and at most max_live_sessions. Default: 16 (or
	// max_live_sessions, if lower). A reload applies it to new
	// connections without dropping the live ones.
	MaxLiveSessionsPerPlayer int `json:"max_live_sessions_per_player,omitempty"`

	state  *banState
	key    string
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gameauth",
		New: func() caddy.Module { return new(App) },
	}
}

// banStates holds one banState per storage and key prefix, shared by the
// configs of successive reloads so that a reload neither reads a large
// list again nor drops the live sessions.
var banStates = caddy.NewUsagePool()

// banState is the process's replica of one list and its live sessions.
type banState struct {
	replica *bans.Replica
	live    *liveRegistry
	metrics *banMetrics
	clock   func() time.Time
	logger  atomic.Pointer[zap.Logger]

	interval   atomic.Int64 // nanoseconds, from the newest config
	failClosed atomic.Int64 // nanoseconds; 0: never

	startOnce sync.Once
	stop      context.CancelFunc
	done      chan struct{}

	mu          sync.Mutex // the fields below, for the loop
	lastWarn    time.Time
	lastCompact time.Time
	failing     bool
}

// Destruct stops the sync loop; the pool calls it when no config uses the
// state any more.
func (s *banState) Destruct() error {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	return nil
}

// Provision builds the app: its storage module and the shared state. It
// reads nothing from storage: Start does.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	var st certmagic.Storage
	a.key = "caddy"
	if a.StorageRaw != nil {
		v, err := ctx.LoadModule(a, "StorageRaw")
		if err != nil {
			return fmt.Errorf("gameauth: loading storage module: %v", err)
		}
		conv, ok := v.(caddy.StorageConverter)
		if !ok {
			return fmt.Errorf("gameauth: storage module %T is not a storage", v)
		}
		if st, err = conv.CertMagicStorage(); err != nil {
			return fmt.Errorf("gameauth: creating storage: %v", err)
		}
		a.key = "own " + string(a.StorageRaw)
	} else {
		st = ctx.Storage()
		a.key = storageKey(st)
	}
	a.key += fmt.Sprintf(" entries=%d rev=%d live=%d", a.maxEntries(), a.revocationTTL(), a.maxLive())
	v, _, err := banStates.LoadOrNew(a.key, func() (caddy.Destructor, error) {
		return newBanState(st, a.maxEntries(), a.revocationTTL(), a.maxLive(), time.Now), nil
	})
	if err != nil {
		return err
	}
	a.state = v.(*banState)
	a.state.metrics.register(ctx.GetMetricsRegistry(), a.state)
	return nil
}

func newBanState(st bans.Storage, maxEntries int, revTTL time.Duration, maxLive int, clock func() time.Time) *banState {
	s := &banState{clock: clock, metrics: newBanMetrics()}
	s.replica = bans.NewReplica(st, bans.Config{Clock: clock, MaxEntries: maxEntries, RevocationTTL: revTTL})
	s.live = newLiveRegistry(maxLive, s.metrics.live)
	s.logger.Store(zap.NewNop())
	s.interval.Store(int64(defaultSyncInterval))
	return s
}

func (a *App) maxEntries() int {
	if a.MaxEntries == 0 {
		return defaultBanEntries
	}
	return a.MaxEntries
}

func (a *App) revocationTTL() time.Duration {
	if a.RevocationTTL == 0 {
		return defaultRevocationTTL
	}
	return time.Duration(a.RevocationTTL)
}

func (a *App) maxLive() int {
	if a.MaxLiveSessions == 0 {
		return defaultMaxLiveSessions
	}
	return a.MaxLiveSessions
}

func (a *App) maxLivePerPlayer() int {
	if a.MaxLiveSessionsPerPlayer == 0 {
		return min(defaultMaxLiveSessionsPerPlayer, a.maxLive())
	}
	return a.MaxLiveSessionsPerPlayer
}

func (a *App) syncInterval() time.Duration {
	if a.SyncInterval == 0 {
		return defaultSyncInterval
	}
	return time.Duration(a.SyncInterval)
}

// Validate refuses options out of their bounds, naming them as the
// Caddyfile spells them.
func (a *App) Validate() error {
	si := a.syncInterval()
	if si < minSyncInterval || si > maxSyncInterval {
		return fmt.Errorf("gameauth: sync_interval %s must be from %s to %s: shorter reads storage too often, longer leaves a ban unenforced longer",
			fmtDuration(si), fmtDuration(minSyncInterval), fmtDuration(maxSyncInterval))
	}
	if fc := time.Duration(a.FailClosedAfter); fc != 0 && (fc < 2*si || fc > maxFailClosedAfter) {
		return fmt.Errorf("gameauth: fail_closed_after %s must be from twice sync_interval (%s) to %s: sooner refuses everyone at the first slow sync",
			fmtDuration(fc), fmtDuration(2*si), fmtDuration(maxFailClosedAfter))
	}
	if n := a.maxEntries(); n < 1 || n > maxBanEntries {
		return fmt.Errorf("gameauth: max_entries %d must be from 1 to %d: each entry takes about 300 bytes of memory", a.MaxEntries, maxBanEntries)
	}
	if d := a.revocationTTL(); d < minRevocationTTL || d > maxRevocationTTL {
		return fmt.Errorf("gameauth: revocation_ttl %s must be from %s to %s: shorter than a token's lifetime lets revoked tokens back in",
			fmtDuration(d), fmtDuration(minRevocationTTL), fmtDuration(maxRevocationTTL))
	}
	if n := a.maxLive(); n < 1 || n > maxMaxLiveSessions {
		return fmt.Errorf("gameauth: max_live_sessions %d must be from 1 to %d: each takes memory and a timer", a.MaxLiveSessions, maxMaxLiveSessions)
	}
	if n := a.maxLivePerPlayer(); n < 1 || n > maxMaxLiveSessionsPerPlayer || n > a.maxLive() {
		return fmt.Errorf("gameauth: max_live_sessions_per_player %d must be from 1 to %d and at most max_live_sessions (%d): it is one player's share of them",
			a.MaxLiveSessionsPerPlayer, maxMaxLiveSessionsPerPlayer, a.maxLive())
	}
	return nil
}

// Start reads the list once (waiting at most firstSyncTimeout) and starts
// the sync loop. A storage that cannot be read does not stop Caddy: until
// a first sync succeeds the handlers answer 503 "ban list unavailable",
// because a list never read cannot say who is banned.
func (a *App) Start() error {
	s := a.state
	s.live.setMaxPerPlayer(a.maxLivePerPlayer())
	s.interval.Store(int64(a.syncInterval()))
	s.failClosed.Store(int64(a.FailClosedAfter))
	s.logger.Store(a.logger)
	s.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop, s.done = cancel, make(chan struct{})
		first, cancelFirst := context.WithTimeout(ctx, firstSyncTimeout)
		s.syncOnce(first)
		cancelFirst()
		go s.loop(ctx)
	})
	return nil
}

// Stop does nothing: the loop belongs to the shared state, which the next
// config keeps; Cleanup releases it.
func (a *App) Stop() error { return nil }

// Cleanup releases the shared state; the last config to release it stops
// its loop.
func (a *App) Cleanup() error {
	if a.state != nil {
		_, err := banStates.Delete(a.key)
		return err
	}
	return nil
}

// errNoApp is returned by appOf for a context that belongs to no config.
var errNoApp = errors.New("gameauth: no Caddy config in this context")

// appOf returns the config's gameauth app, created with its defaults when
// the config has none.
func appOf(ctx caddy.Context) (a *App, err error) {
	v, err := ctx.AppIfConfigured("gameauth")
	if errors.Is(err, caddy.ErrNotConfigured) {
		// A context made from a bare caddy.Context (a Go test, a program
		// embedding the handler) has no config, and ctx.App would panic on
		// it; AppIfConfigured says so with the same error as for a config
		// without the app, so tell them apart by whether App works.
		v, err = appOrNoConfig(ctx)
	}
	if err != nil {
		return nil, err
	}
	app, ok := v.(*App)
	if !ok {
		return nil, fmt.Errorf("gameauth: app is %T", v)
	}
	return app, nil
}

func appOrNoConfig(ctx caddy.Context) (v any, err error) {
	defer func() {
		if recover() != nil {
			v, err = nil, errNoApp
		}
	}()
	return ctx.App("gameauth")
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = (*banState)(nil)
)

// storageKey names Caddy's configured storage so that successive configs
// on the same storage share one list: a file system by its path, another
// storage module by its exported configuration (a JSON tag per option;
// %+v would read its internal state too, racing with its goroutines).
// Only a storage that cannot be marshalled is named by its address, so a
// reload then reads the list again.
func storageKey(st certmagic.Storage) string {
	if fs, ok := st.(*certmagic.FileStorage); ok {
		return "caddy file_system " + fs.Path
	}
	if b, err := json.Marshal(st); err == nil {
		return fmt.Sprintf("caddy %T %s", st, b)
	}
	return fmt.Sprintf("caddy %T %p", st, st)
}

package caddyauth

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// bansOf returns the ban state of the config's gameauth app, or a
// standalone empty one when the context belongs to no config.
func bansOf(ctx caddy.Context) (*banState, error) {
	app, err := appOf(ctx)
	if errors.Is(err, errNoApp) {
		return standaloneState(), nil
	}
	if err != nil {
		return nil, err
	}
	return app.state, nil
}

// standaloneState is the list of a handler provisioned outside a Caddy
// config (a Go test, a program embedding the handler): empty, in memory,
// loaded at once.
func standaloneState() *banState {
	s := newBanState(&memStorage{m: map[string][]byte{}}, defaultBanEntries, defaultRevocationTTL, defaultMaxLiveSessions, time.Now)
	_, _ = s.replica.Sync(context.Background())
	return s
}

// memStorage is a bans.Storage in memory.
type memStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStorage) Store(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memStorage) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), v...), nil
}

func (s *memStorage) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStorage) List(_ context.Context, dir string, _ bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if rest, ok := strings.CutPrefix(k, dir+"/"); ok && !strings.Contains(rest, "/") {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (s *memStorage) Lock(context.Context, string) error   { return nil }
func (s *memStorage) Unlock(context.Context, string) error { return nil }

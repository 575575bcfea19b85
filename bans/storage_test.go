package bans

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fileStorage is a fake certmagic.Storage on a directory: one file a key,
// written through a temporary file and a rename like certmagic's
// FileStorage. Locks are in-process. Tests make it fail on demand.
type fileStorage struct {
	dir      string
	failRead atomic.Bool // Load and List fail
	noLocks  atomic.Bool // Lock always succeeds at once: locks that do not exclude
	// afterList, when set, runs after each List: tests interleave with it.
	afterList atomic.Pointer[func(dir string)]
	// partLoads counts the Loads of snapshot parts.
	partLoads atomic.Int64

	mu    sync.Mutex
	locks map[string]chan struct{}
}

func newFileStorage(t testing.TB) *fileStorage {
	return &fileStorage{dir: t.TempDir(), locks: map[string]chan struct{}{}}
}

var errInjected = errors.New("injected storage failure")

func (s *fileStorage) file(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

func (s *fileStorage) Store(_ context.Context, key string, value []byte) error {
	f := s.file(key)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(value); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f)
}

func (s *fileStorage) Load(_ context.Context, key string) ([]byte, error) {
	if s.failRead.Load() {
		return nil, errInjected
	}
	if strings.HasSuffix(key, ".jsonl") {
		s.partLoads.Add(1)
	}
	return os.ReadFile(s.file(key)) // a missing file: fs.ErrNotExist
}

func (s *fileStorage) Delete(_ context.Context, key string) error {
	return os.Remove(s.file(key))
}

func (s *fileStorage) List(_ context.Context, dir string, _ bool) ([]string, error) {
	if s.failRead.Load() {
		return nil, errInjected
	}
	ents, err := os.ReadDir(s.file(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range ents {
		if e.Type().IsRegular() && e.Name()[0] != '.' {
			keys = append(keys, path.Join(dir, e.Name()))
		}
	}
	if f := s.afterList.Load(); f != nil {
		(*f)(dir)
	}
	return keys, nil
}

func (s *fileStorage) Lock(ctx context.Context, name string) error {
	if s.noLocks.Load() {
		return nil
	}
	for {
		s.mu.Lock()
		ch, held := s.locks[name]
		if !held {
			s.locks[name] = make(chan struct{})
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *fileStorage) Unlock(_ context.Context, name string) error {
	if s.noLocks.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.locks[name]; ok {
		close(ch)
		delete(s.locks, name)
	}
	return nil
}

// count returns the number of files under the key prefix dir.
func (s *fileStorage) count(t testing.TB, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(s.file(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// memStorage is an in-memory fake certmagic.Storage, for benchmarks that
// should measure the list, not a file system. Values are copied in and
// out, as a real storage would.
type memStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStorage() *memStorage { return &memStorage{m: map[string][]byte{}} }

func (s *memStorage) Store(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), v...), nil
}

func (s *memStorage) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok {
		return fs.ErrNotExist
	}
	delete(s.m, key)
	return nil
}

// List returns the full keys directly under dir (recursive is ignored: the
// list uses flat directories).
func (s *memStorage) List(_ context.Context, dir string, _ bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var keys []string
	for k := range s.m {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, "/") {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (s *memStorage) Lock(context.Context, string) error   { return nil }
func (s *memStorage) Unlock(context.Context, string) error { return nil }

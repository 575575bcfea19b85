package bans

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
)

// missingDirStorage answers List of a directory never written as
// certmagic's FileStorage does: an error wrapping fs.ErrNotExist.
type missingDirStorage struct{ *fileStorage }

func (s missingDirStorage) List(ctx context.Context, dir string, rec bool) ([]string, error) {
	keys, err := s.fileStorage.List(ctx, dir, rec)
	if err == nil && len(keys) == 0 {
		return nil, fmt.Errorf("lstat %s: %w", dir, fs.ErrNotExist)
	}
	return keys, err
}

// TestSyncEmptyStorage: a storage where no list was ever written is an
// empty list, synced, not a failing sync (a fresh install would otherwise
// refuse everyone until the first ban).
func TestSyncEmptyStorage(t *testing.T) {
	r := NewReplica(missingDirStorage{newFileStorage(t)}, Config{})
	if _, err := r.Sync(context.Background()); err != nil {
		t.Fatalf("sync of an empty storage: %v", err)
	}
	if r.LastSync().IsZero() {
		t.Fatal("LastSync is zero after a complete sync")
	}
}

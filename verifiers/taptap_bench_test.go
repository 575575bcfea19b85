package verifiers

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkTapTapCacheHit is the cost of a request whose session is cached:
// bound checks, SHA-256 of the token, one locked map lookup and a copy of
// the claims.
func BenchmarkTapTapCacheHit(b *testing.B) {
	f := newFakeLeanCloud(b, tapTestClientToken)
	f.addUser("xmpwr2kvzl3xm5b7q1j6tcy0d", readTapFixture(b, "user_taptap.json"))
	v, _ := newTestTapTap(b, f, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, "xmpwr2kvzl3xm5b7q1j6tcy0d"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, "xmpwr2kvzl3xm5b7q1j6tcy0d"); err != nil {
			b.Fatal(err)
		}
	}
	if f.calls.Load() != 1 {
		b.Fatal("cache missed")
	}
}

// BenchmarkTapTapCacheHitParallel is the same under contention.
func BenchmarkTapTapCacheHitParallel(b *testing.B) {
	f := newFakeLeanCloud(b, tapTestClientToken)
	f.addUser("xmpwr2kvzl3xm5b7q1j6tcy0d", readTapFixture(b, "user_taptap.json"))
	v, _ := newTestTapTap(b, f, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, "xmpwr2kvzl3xm5b7q1j6tcy0d"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, "xmpwr2kvzl3xm5b7q1j6tcy0d"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkTapTapCacheHitFloor is the bare crypto of a hit: SHA-256 of the token.
func BenchmarkTapTapCacheHitFloor(b *testing.B) {
	tok := []byte("xmpwr2kvzl3xm5b7q1j6tcy0d")
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256(tok)
		if sum[0] == 0 && sum[1] == 0 && sum[2] == 0 && sum[3] == 0 {
			b.Log("unlikely")
		}
	}
}

// BenchmarkTapTapMiss is a full call to a fake LeanCloud on loopback (a new
// token each time), with the user fixture as the answer.
func BenchmarkTapTapMiss(b *testing.B) {
	f := newFakeLeanCloud(b, tapTestClientToken)
	f.setMode(lcAny)
	v, _ := newTestTapTap(b, f, nil)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := v.Verify(ctx, "missbench"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	if s := v.Stats(); s.Hits != 0 {
		b.Fatalf("unexpected cache hits: %+v", s)
	}
}

// BenchmarkTapTapMissFloor is a bare net/http GET of the same answer from the
// same server: the floor under BenchmarkTapTapMiss.
func BenchmarkTapTapMissFloor(b *testing.B) {
	f := newFakeLeanCloud(b, tapTestClientToken)
	f.setMode(lcAny)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	url := f.srv.URL + "/1.1/users/me"
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("X-LC-Id", tapTestClientID)
		req.Header.Set("X-LC-Key", tapTestClientToken)
		req.Header.Set("X-LC-Session", "missbench"+strconv.Itoa(i))
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(body) == 0 {
			b.Fatalf("status %d, %v", resp.StatusCode, err)
		}
	}
}

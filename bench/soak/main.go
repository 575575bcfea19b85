// Command soak drives mixed traffic through a Caddy built with caddy-gameauth
// on loopback for a bounded time while reloading its config every minute,
// then reports failed requests, RSS and goroutines at start and end.
//
// Traffic classes, each request tagged with a unique X-Soak-Id that the
// upstream records:
//   - valid:   a valid Seayoo token; must get 200 and reach the upstream as
//     the token's user.
//   - invalid: a forged or expired token; must get 401 and never reach the
//     upstream.
//   - forged:  a valid token plus forged identity headers in several
//     spellings; the upstream must see only the verified user.
//   - issue:   POST /tokens/zego behind gameauth; must get a token for the
//     verified user.
//
// A request that gets no HTTP answer (a connection reset while a reload
// swaps listeners) is retried up to 3 times, as any HTTP client does, and
// counted as a retry; an answer other than the expected one is a failure.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	secret     = "sk_soak_secret"
	rotated    = "sk_soak_rotated"
	gameID     = "xcom"
	zegoSecret = "0123456789abcdef0123456789abcdef"
)

func main() {
	caddyBin := flag.String("caddy", "bin/caddy", "Caddy binary built with caddy-gameauth")
	duration := flag.Duration("duration", 10*time.Minute, "how long to drive traffic")
	reloadEvery := flag.Duration("reload", time.Minute, "config reload interval")
	workers := flag.Int("workers", 8, "concurrent clients")
	flag.IntVar(&cacheSize, "cache-size", 0, "cache_size of the Seayoo verifiers (0: the module's default, -1: off)")
	flag.Parse()
	if err := run(*caddyBin, *duration, *reloadEvery, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type counters struct {
	sent, failed, retries, forwardedInvalid, leakedForged atomic.Int64
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cacheSize is the -cache-size flag.
var cacheSize int

func config(admin, port int, upstream string, secrets []string) []byte {
	seayoo := map[string]any{"verifier": "seayoo", "secrets": secrets, "game_id": gameID}
	if cacheSize != 0 {
		seayoo["cache_size"] = cacheSize
	}
	cfg := map[string]any{
		"admin":   map[string]any{"listen": fmt.Sprintf("127.0.0.1:%d", admin)},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"soak": map[string]any{
			"listen":          []string{fmt.Sprintf("127.0.0.1:%d", port)},
			"automatic_https": map[string]any{"disable": true},
			"routes": []any{
				map[string]any{
					"match": []any{map[string]any{"path": []string{"/tokens/zego"}}},
					"handle": []any{
						map[string]any{"handler": "gameauth", "verifiers": []any{seayoo}},
						map[string]any{"handler": "gameauth_issuer", "issuer": map[string]any{"issuer": "zego", "app_id": 1234567890, "secret": zegoSecret}},
					},
					"terminal": true,
				},
				map[string]any{"handle": []any{
					map[string]any{"handler": "gameauth", "verifiers": []any{seayoo}},
					map[string]any{"handler": "reverse_proxy", "upstreams": []any{map[string]any{"dial": upstream}}},
				}},
			},
		}}}},
	}
	b, _ := json.Marshal(cfg)
	return b
}

func token(sub string, key string, exp time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "https://api.seayoo.com", "aud": gameID, "sub": sub, "scope": "auth",
		"iat": time.Now().Unix(), "exp": exp.Unix(), "idp": "seayoo", "age": 18,
	}).SignedString([]byte(key))
	if err != nil {
		panic(err)
	}
	return s
}

func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(f)[0], 10, 64)
			return n
		}
	}
	return -1
}

// heapInuseMiB reads Caddy's HeapInuse from the MemStats that its admin
// pprof heap endpoint prints.
func heapInuseMiB(admin int) int64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1&debug=1", admin))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapInuse = "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n >> 20
		}
	}
	return -1
}

// goroutines reads the count from Caddy's admin pprof endpoint.
func goroutines(admin int) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", admin))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	line, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	// "goroutine profile: total N"
	f := strings.Fields(strings.SplitN(string(line), "\n", 2)[0])
	if len(f) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

func run(caddyBin string, duration, reloadEvery time.Duration, workers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var c counters
	// Upstream: records which soak ids and users reach it.
	var seen sync.Map // soak id -> X-Auth-User-Id
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Soak-Id"), r.Header.Values("X-Auth-User-Id"))
		w.Write([]byte("ok"))
	})}
	ul, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go up.Serve(ul)
	defer up.Close()

	admin, port := freePort(), freePort()
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := dir + "/caddy.json"
	if err := os.WriteFile(cfgPath, config(admin, port, ul.Addr().String(), []string{secret}), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(caddyBin, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/"); err == nil {
			r.Body.Close()
			break
		}
		if i > 100 {
			return fmt.Errorf("caddy did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var idSeq atomic.Int64
	do := func(method, path string, hdr http.Header) (int, string, string) {
		id := strconv.FormatInt(idSeq.Add(1), 10)
		for attempt := 0; attempt < 4; attempt++ {
			req, _ := http.NewRequest(method, base+path, nil)
			req.Header = hdr.Clone()
			req.Header.Set("X-Soak-Id", id)
			resp, err := client.Do(req)
			if err != nil {
				c.retries.Add(1)
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return resp.StatusCode, string(body), id
		}
		return 0, "", id
	}
	fail := func(format string, args ...any) {
		if c.failed.Add(1) <= 5 {
			fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
		}
	}

	// Warm up, then take the starting figures.
	warm := token("warm", secret, time.Now().Add(time.Hour))
	for range 2000 {
		do(http.MethodGet, "/warm", http.Header{"Authorization": {"Bearer " + warm}})
	}
	rss0, gr0 := rssKB(cmd.Process.Pid), goroutines(admin)

	runCtx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()

	// Reloads: rotate the Seayoo keys (both stay valid, order changes, so
	// every reload is a real config change).
	var (
		reloadMu sync.Mutex
		reloads  int
		rssSeen  []int64 // Caddy's RSS just before each reload, KiB
		heapSeen []int64 // Caddy's HeapInuse just before each reload, MiB
	)
	go func() {
		t := time.NewTicker(reloadEvery)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			rss, heap := rssKB(cmd.Process.Pid), heapInuseMiB(admin)
			reloadMu.Lock()
			rssSeen = append(rssSeen, rss)
			heapSeen = append(heapSeen, heap)
			reloadMu.Unlock()
			keys := []string{secret, rotated}
			if i%2 == 1 {
				keys = []string{rotated, secret}
			}
			resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/load", admin), "application/json",
				bytes.NewReader(config(admin, port, ul.Addr().String(), keys)))
			if err != nil || resp.StatusCode != 200 {
				fail("reload %d: %v %v", i, err, resp)
				continue
			}
			resp.Body.Close()
			reloadMu.Lock()
			reloads++
			reloadMu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for runCtx.Err() == nil {
				user := "u" + strconv.Itoa(rng.IntN(100000))
				c.sent.Add(1)
				switch k := rng.IntN(10); {
				case k < 5: // valid
					st, _, id := do(http.MethodGet, "/api/v1", http.Header{"Authorization": {"Bearer " + token(user, secret, time.Now().Add(time.Hour))}})
					got, _ := seen.LoadAndDelete(id)
					if st != 200 || fmt.Sprint(got) != "["+user+"]" {
						fail("valid: status %d, upstream saw %v", st, got)
					}
				case k < 7: // invalid: forged signature or expired
					tok := token(user, "sk_attacker", time.Now().Add(time.Hour))
					if k == 6 {
						tok = token(user, secret, time.Now().Add(-time.Second))
					}
					st, _, id := do(http.MethodGet, "/api/v1", http.Header{"Authorization": {"Bearer " + tok}, "X-Auth-User-Id": {"admin"}})
					if _, ok := seen.LoadAndDelete(id); ok {
						c.forwardedInvalid.Add(1)
						fail("invalid token forwarded")
					} else if st != 401 {
						fail("invalid: status %d", st)
					}
				case k < 9: // forged headers with a valid token
					hdr := http.Header{"Authorization": {"Bearer " + token(user, secret, time.Now().Add(time.Hour))}}
					hdr["X-Auth-User-Id"] = []string{"admin"}
					hdr["X_Auth_User_Id"] = []string{"admin"}
					hdr["x.auth.user.id"] = []string{"admin"}
					st, _, id := do(http.MethodGet, "/api/v1", hdr)
					got, _ := seen.LoadAndDelete(id)
					if st != 200 || fmt.Sprint(got) != "["+user+"]" {
						if strings.Contains(fmt.Sprint(got), "admin") {
							c.leakedForged.Add(1)
						}
						fail("forged: status %d, upstream saw %v", st, got)
					}
				default: // issuing
					st, body, _ := do(http.MethodPost, "/tokens/zego", http.Header{"Authorization": {"Bearer " + token(user, secret, time.Now().Add(time.Hour))}})
					var ans struct {
						Token  string `json:"token"`
						UserID string `json:"user_id"`
					}
					if st != 200 || json.Unmarshal([]byte(body), &ans) != nil || ans.UserID != user || !strings.HasPrefix(ans.Token, "04") {
						fail("issue: status %d body %.100q", st, body)
					}
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	time.Sleep(5 * time.Second) // let idle connections and reload leftovers settle
	client.CloseIdleConnections()
	time.Sleep(time.Second)
	rss1, gr1 := rssKB(cmd.Process.Pid), goroutines(admin)

	reloadMu.Lock()
	defer reloadMu.Unlock()
	fmt.Printf("soak: %s of mixed traffic, %d workers, %d reloads\n", duration, workers, reloads)
	fmt.Printf("  requests %d, failed %d, forwarded invalid %d, forged identity leaked %d, connection retries %d\n",
		c.sent.Load(), c.failed.Load(), c.forwardedInvalid.Load(), c.leakedForged.Load(), c.retries.Load())
	fmt.Printf("  caddy RSS %d KiB -> %d KiB, goroutines %d -> %d\n", rss0, rss1, gr0, gr1)
	fmt.Printf("  caddy RSS before each reload (MiB):")
	for _, kb := range rssSeen {
		fmt.Printf(" %d", kb/1024)
	}
	fmt.Printf("\n  caddy Go heap in use before each reload (MiB):")
	for _, mb := range heapSeen {
		fmt.Printf(" %d", mb)
	}
	fmt.Println()
	if gr1 > gr0+16 {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/goroutine?debug=1", admin)); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 6000))
			resp.Body.Close()
			fmt.Printf("  goroutine profile (head):\n%s\n", b)
		}
	}
	if c.failed.Load() != 0 || c.forwardedInvalid.Load() != 0 || c.leakedForged.Load() != 0 {
		return fmt.Errorf("%d failures", c.failed.Load())
	}
	if reloads == 0 && duration >= reloadEvery {
		return fmt.Errorf("no reload happened")
	}
	return nil
}

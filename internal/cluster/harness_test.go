package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The harness runs caddy-gameauth as real Caddy processes: TestMain builds
// internal/testcaddy once, each test starts instances of it on loopback
// ports, and every instance of a test may share one storage directory for
// the gameauth app, as a cluster of Caddy servers shares its storage.

// caddyBin is the Caddy binary TestMain built.
var caddyBin string

// Bounds of the harness. None is asserted as a duration: each only stops a
// wait that would otherwise never end.
const (
	buildTimeout = 10 * time.Minute
	startBound   = 30 * time.Second
	stopBound    = 10 * time.Second
	// propagationBound is how long a change made on one instance may take
	// to hold on another: the contract is 2 × sync_interval (2s here); the
	// rest is slack for a loaded two-core machine.
	propagationBound = 10 * time.Second
	syncInterval     = time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gameauth-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if caddyBin, err = buildCaddy(dir); err != nil {
		fmt.Fprintln(os.Stderr, "cluster tests: building Caddy:", err)
		return 1
	}
	return m.Run()
}

// buildCaddy builds ./internal/testcaddy of this module into dir, without
// the race detector whatever GOFLAGS says: the child is the system under
// test, not the test.
func buildCaddy(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build Caddy: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a module (go env GOMOD = %q)", gomod)
	}
	bin := filepath.Join(dir, "caddy")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./internal/testcaddy")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./internal/testcaddy in %s: %v\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

func withoutRace(flags string) string {
	var keep []string
	for _, f := range strings.Fields(flags) {
		if f != "-race" && !strings.HasPrefix(f, "-race=") {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// instanceCaddyfile is the config of every instance: its own admin
// endpoint, the shared ban list storage, one gameauth route in front of
// the test's upstream.
const instanceCaddyfile = `{
	admin {ADMIN}
	persist_config off
	gameauth {
		sync_interval {SYNC}
		storage file_system "{STORAGE}"
	}
	log {
		output stderr
		level INFO
	}
}

{SITE} {
	bind 127.0.0.1
	route {
		gameauth {
			seayoo {
				secret {env.SEAYOO_SECRET_KEY}
				game_id xcom
			}
		}
		reverse_proxy {UPSTREAM}
	}
}
`

// instance is one Caddy process, restartable on the same config.
type instance struct {
	t       *testing.T
	name    string
	dir     string // its config, log and home
	storage string // the gameauth app's storage directory
	up      *upstream
	config  string
	logPath string
	admin   string // http://127.0.0.1:port
	base    string // the site, http://127.0.0.1:port
	starts  int
	ready   bool // it has served once

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// newInstance writes the config of an instance on storage and starts it;
// it is stopped when the test ends, and its log shown if the test failed.
func newInstance(t *testing.T, name, storage string, up *upstream) *instance {
	in := launchInstance(t, name, storage, up)
	in.waitReady()
	return in
}

// launchInstance is newInstance without the wait: start several, then
// waitReady on each.
func launchInstance(t *testing.T, name, storage string, up *upstream) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{t: t, name: name, dir: dir, storage: storage, up: up,
		config:  filepath.Join(dir, "Caddyfile"),
		logPath: filepath.Join(dir, "caddy.log"),
	}
	in.writeConfig()
	t.Cleanup(func() {
		if t.Failed() {
			in.dumpLog()
		}
	})
	t.Cleanup(in.stop)
	in.launch()
	return in
}

// writeConfig picks the instance's ports and writes its Caddyfile.
func (in *instance) writeConfig() {
	t := in.t
	t.Helper()
	in.admin = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	in.base = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cf := strings.NewReplacer(
		"{ADMIN}", strings.TrimPrefix(in.admin, "http://"),
		"{SYNC}", syncInterval.String(),
		"{STORAGE}", in.storage,
		"{SITE}", in.base,
		"{UPSTREAM}", in.up.addr(),
	).Replace(instanceCaddyfile)
	if err := os.WriteFile(in.config, []byte(cf), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) launch() {
	t := in.t
	t.Helper()
	in.starts++
	f, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== harness: start %d of %s (%s)\n", in.starts, in.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(caddyBin, "run", "--config", in.config, "--adapter", "caddyfile")
	cmd.Dir = in.dir
	home := filepath.Join(in.dir, "home")
	cmd.Env = append(os.Environ(),
		"SEAYOO_SECRET_KEY="+seayooSecret,
		"HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"),
	)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", in.name, err)
	}
	in.cmd, in.done = cmd, make(chan struct{})
	done := in.done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
}

// waitReady waits until the admin endpoint serves the loaded config (Caddy
// holds the config lock while it starts the apps, so the gameauth app has
// read the list) and the site answers. A first start that lost one of its
// ports to another process between freePort and Caddy's bind is tried
// again on new ports; a restart keeps its ports.
func (in *instance) waitReady() {
	t := in.t
	t.Helper()
	for attempt := 1; ; attempt++ {
		exited, err := in.poll()
		if err == nil {
			in.ready = true
			return
		}
		if exited && !in.ready && attempt < 3 {
			if b, _ := os.ReadFile(in.logPath); bytes.Contains(b, []byte("address already in use")) {
				t.Logf("%s: a port was taken meanwhile (%v): starting again on new ports", in.name, err)
				in.writeConfig()
				in.launch()
				continue
			}
		}
		t.Fatalf("%s: %v", in.name, err)
	}
}

// poll waits for the instance to serve, for at most startBound; exited
// says the process ended meanwhile.
func (in *instance) poll() (exited bool, err error) {
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(startBound)
	sitePort := in.base[strings.LastIndex(in.base, ":"):]
	var last string
	for _, url := range []string{in.admin + "/config/", in.base + "/"} {
		for {
			select {
			case <-in.done:
				return true, fmt.Errorf("exited while starting: %v", in.cmd.ProcessState)
			default:
			}
			resp, err := c.Get(url)
			if err == nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				// The config served must be this instance's, not that of
				// whatever else may listen on the port.
				if url == in.base+"/" || (resp.StatusCode == 200 && bytes.Contains(b, []byte(`"gameauth"`)) && bytes.Contains(b, []byte(sitePort))) {
					break
				}
				last = fmt.Sprintf("%d %.200s", resp.StatusCode, b)
			} else {
				last = err.Error()
			}
			if time.Now().After(deadline) {
				return false, fmt.Errorf("not ready after %s: GET %s: %s", startBound, url, last)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return false, nil
}

// stop interrupts the process (Caddy stops gracefully) and kills it if it
// has not exited within stopBound.
func (in *instance) stop() {
	if in.cmd == nil {
		return
	}
	defer func() { in.cmd = nil }()
	_ = in.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-in.done:
		return
	case <-time.After(stopBound):
	}
	in.t.Errorf("%s did not exit within %s of SIGINT: killed", in.name, stopBound)
	_ = in.cmd.Process.Kill()
	select {
	case <-in.done:
	case <-time.After(stopBound):
		in.t.Errorf("%s did not exit within %s of SIGKILL", in.name, stopBound)
	}
}

// restartAll stops the instances, then starts new processes on the same
// configs, ports and storage, and waits until they serve.
func restartAll(ins ...*instance) {
	for _, in := range ins {
		in.stop()
	}
	for _, in := range ins {
		in.launch()
	}
	for _, in := range ins {
		in.waitReady()
	}
}

// dumpLog logs the tail of the instance's log (all of its starts).
func (in *instance) dumpLog() {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		in.t.Logf("%s log: %v", in.name, err)
		return
	}
	const tail = 24 << 10
	if len(b) > tail {
		b = append([]byte("…"), b[len(b)-tail:]...)
	}
	in.t.Logf("%s log (%s):\n%s", in.name, in.logPath, b)
}

// --- the site ---

var client = &http.Client{Timeout: 10 * time.Second}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) String() string {
	return fmt.Sprintf("%d %q (WWW-Authenticate %q)", r.status, r.body, r.header.Get("WWW-Authenticate"))
}

func do(t *testing.T, method, url, auth, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// get sends GET /api/x to the instance with token tok.
func (in *instance) get(tok string) response {
	in.t.Helper()
	return do(in.t, http.MethodGet, in.base+"/api/x", tok, "", nil)
}

// waitStatus polls the instance with tok until it answers want, for at
// most propagationBound, and returns the answer and how long it took.
func (in *instance) waitStatus(tok string, want int) (response, time.Duration) {
	in.t.Helper()
	start := time.Now()
	for {
		r := in.get(tok)
		if r.status == want {
			return r, time.Since(start)
		}
		if time.Since(start) > propagationBound {
			in.t.Fatalf("%s: %s after %s, want %d", in.name, r, propagationBound, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- the admin API ---

// adminDo sends a request to the instance's admin endpoint.
func (in *instance) adminDo(method, path, body string) response {
	in.t.Helper()
	var rb io.Reader
	ct := ""
	if body != "" {
		rb, ct = strings.NewReader(body), "application/json"
	}
	return do(in.t, method, in.admin+path, "", ct, rb)
}

// adminJSON is adminDo with a body marshalled from v.
func (in *instance) adminJSON(method, path string, v any) response {
	in.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		in.t.Fatal(err)
	}
	return in.adminDo(method, path, string(b))
}

// banList is the answer to GET /gameauth/bans.
type banList struct {
	Bans []struct {
		Provider, Subject, Until, Reason string
	} `json:"bans"`
	Revocations []struct {
		Provider, Subject, Before string
	} `json:"revocations"`
	Next string `json:"next"`
}

// list returns GET /gameauth/bans, failing the test unless it is a 200
// with the JSON page.
func (in *instance) list() banList {
	in.t.Helper()
	r := in.adminDo(http.MethodGet, "/gameauth/bans", "")
	if r.status != http.StatusOK {
		in.t.Fatalf("%s: GET /gameauth/bans: %s, want 200", in.name, r)
	}
	var l banList
	if err := json.Unmarshal([]byte(r.body), &l); err != nil {
		in.t.Fatalf("%s: GET /gameauth/bans: %v in %q", in.name, err, r.body)
	}
	return l
}

// --- tokens ---

const (
	seayooSecret = "sk_secret"
	seayooGame   = "xcom"
)

// seayooToken mints a Seayoo token with golang-jwt as the tests of package
// caddyauth do; mutate adjusts the claims.
func seayooToken(t *testing.T, sub string, mutate func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{
		"iss":   "https://api.seayoo.com",
		"aud":   seayooGame,
		"sub":   sub,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": "auth",
	}
	if mutate != nil {
		mutate(c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(seayooSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// --- the upstream ---

// upstream is the backend of every instance of a test: an HTTP echo that
// counts requests per X-Auth-User-Id, and a WebSocket echo that also takes
// two commands: "push <size> <pause ms>" streams messages to the client
// until the connection ends, "hold" stops reading the client.
type upstream struct {
	listen string // host:port

	done chan struct{} // closed when the test ends

	mu     sync.Mutex
	byUser map[string]int
	conns  map[net.Conn]bool // open WebSockets
}

func (u *upstream) addr() string { return u.listen }

// requests returns how many requests of user reached the upstream.
func (u *upstream) requests(user string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byUser[user]
}

// openWebSockets returns the number of WebSocket connections open to the
// upstream.
func (u *upstream) openWebSockets() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.conns)
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get("X-Auth-User-Id")
	u.mu.Lock()
	u.byUser[user]++
	u.mu.Unlock()
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		u.serveWebSocket(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "upstream ok: %s", user)
}

func (u *upstream) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		http.Error(w, "bad WebSocket handshake", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	u.mu.Lock()
	u.conns[conn] = true
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.conns, conn)
		u.mu.Unlock()
		conn.Close()
	}()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(key))
	if brw.Flush() != nil {
		return
	}
	var wmu sync.Mutex // a frame at a time: the pusher's and the echoes
	write := func(op byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, op, p, false)
	}
	pushed := make(chan struct{}) // closed when the pusher ends
	pushing := false
	for {
		f, err := readFrame(brw.Reader)
		if err != nil || !f.masked {
			return // a client frame must be masked
		}
		var size, pause int
		switch {
		case f.op == opClose:
			_ = write(opClose, f.payload)
			return
		case f.op == opPing:
			err = write(opPong, f.payload)
		case f.op == opText && string(f.payload) == "hold":
			// Read no more until the pusher ends (the connection was
			// closed) or the test does: what the client sends piles up
			// in Caddy.
			select {
			case <-pushed:
			case <-u.done:
			}
			return
		case f.op == opText && !pushing && scanPush(f.payload, &size, &pause):
			pushing = true
			go func() {
				defer close(pushed)
				push(conn, &wmu, size, time.Duration(pause)*time.Millisecond)
			}()
		case f.op == opText, f.op == opBinary:
			err = write(f.op, f.payload)
		}
		if err != nil {
			return
		}
	}
}

// scanPush parses the command "push <size> <pause ms>".
func scanPush(p []byte, size, pause *int) bool {
	n, err := fmt.Sscanf(string(p), "push %d %d", size, pause)
	return err == nil && n == 2 && *size > 0 && *size <= maxFramePayload
}

// push sends text messages of size bytes, each one byte repeated, until a
// write fails: the upstream streaming to the client, as a game server
// sends state. With a pause, each message is written in two halves a
// pause apart (holding wmu), then the next a pause later, so that a close
// is as likely to come in the middle of a frame as between two.
func push(conn net.Conn, wmu *sync.Mutex, size int, pause time.Duration) {
	for i := 0; ; i++ {
		f := append(frameHeader(opText, size, false), bytes.Repeat([]byte{'a' + byte(i%26)}, size)...)
		half := len(f) / 2
		wmu.Lock()
		_, err := conn.Write(f[:half])
		if err == nil {
			time.Sleep(pause)
			_, err = conn.Write(f[half:])
		}
		wmu.Unlock()
		if err != nil {
			return
		}
		time.Sleep(pause)
	}
}

// newUpstream starts the upstream; it is closed, WebSockets included, when
// the test ends.
func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{done: make(chan struct{}), byUser: map[string]int{}, conns: map[net.Conn]bool{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	u.listen = l.Addr().String()
	t.Cleanup(func() {
		close(u.done)
		_ = srv.Close()
		u.mu.Lock()
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
	})
	return u
}

// waitFor polls cond until it holds, for at most bound.
func waitFor(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

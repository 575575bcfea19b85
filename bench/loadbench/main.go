// Command loadbench is the load benchmark of caddy-gameauth: it starts, on
// 127.0.0.1 only, a tiny upstream, a forward_auth verifier service and a
// Caddy built with the module (see ../cmd/caddy), drives seven scenarios with
// wrk in alternating rounds, measures Caddy's CPU time per request from
// /proc, stops everything it started and prints one table.
//
//	A  reverse_proxy                                   (baseline)
//	B  gameauth seayoo + reverse_proxy
//	C  forward_auth to a Go verifier service + reverse_proxy
//	D  gameauth seayoo + gameauth_issuer zego
//	E  gameauth seayoo + gameauth_issuer twilio
//	F  static_response with D's answer (same size and headers)
//	G  static_response with E's answer
//
// Usage: loadbench -caddy bin/caddy [-quick] [-rounds 5 -duration 5s ...].
// bench/run.sh builds everything and runs it. The same binary is also the
// upstream ("loadbench upstream") and the verifier ("loadbench verifier").
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The demo secrets of the README; the token is minted by the driver.
const (
	seayooSecret = "sk_secret"
	seayooGame   = "xcom"
	seayooIssuer = "https://api.seayoo.com"
	seayooUser   = "91231223346130001"

	upstreamBody = `{"ok":true,"service":"upstream","note":"fixed body"}` + "\n"
)

func init() {
	// Children are started with Pdeathsig, which fires when the starting
	// *thread* exits: keep main on the main thread, which lives as long as
	// the process.
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "upstream":
			os.Exit(serveMain("upstream", os.Args[2:], upstreamHandler()))
		case "verifier":
			os.Exit(serveMain("verifier", os.Args[2:], verifierHandler()))
		}
	}
	os.Exit(driverMain())
}

// ---------------------------------------------------------------------------
// upstream and verifier (child processes)

// serveMain serves h on -listen (127.0.0.1:0 by default) and prints the
// address it got on stdout, then serves until SIGTERM/SIGINT.
func serveMain(name string, args []string, h http.Handler) int {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	_ = fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// upstreamHandler answers every request with a small fixed body; on
// /_headers (used by the driver's checks, not measured) it answers the
// X-Auth-* headers it received, as JSON.
func upstreamHandler() http.Handler {
	body := []byte(upstreamBody)
	clen := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_headers" {
			got := map[string]string{}
			for k, v := range r.Header {
				if strings.HasPrefix(k, "X-Auth-") {
					got[k] = strings.Join(v, ", ")
				}
			}
			_ = json.NewEncoder(w).Encode(got)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{clen}
		_, _ = w.Write(body)
	})
}

// seayooClaims are the claims the verifier service needs.
type seayooClaims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// verifierHandler is the forward_auth service: it verifies the Seayoo token
// in Authorization with the same checks as the gameauth seayoo verifier
// (HS256 only, iss, aud, exp required, scope auth, sub non-empty) and
// answers 200 with X-Auth-User-Id, or 401.
func verifierHandler() http.Handler {
	key := []byte(seayooSecret)
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithIssuer(seayooIssuer),
		jwt.WithAudience(seayooGame),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	deny := func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values("Authorization")
		if len(vals) != 1 || len(vals[0]) < 7 || !strings.EqualFold(vals[0][:7], "bearer ") {
			deny(w)
			return
		}
		tok := strings.TrimSpace(vals[0][7:])
		if tok == "" || len(tok) > 8192 {
			deny(w)
			return
		}
		var c seayooClaims
		if _, err := parser.ParseWithClaims(tok, &c, keyFunc); err != nil || c.Scope != "auth" || c.Subject == "" {
			deny(w)
			return
		}
		w.Header().Set("X-Auth-User-Id", c.Subject)
		w.WriteHeader(http.StatusOK)
	})
}

// mintToken makes a Seayoo identity token valid for an hour.
func mintToken(now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss":           seayooIssuer,
		"aud":           seayooGame,
		"sub":           seayooUser,
		"iat":           now.Unix(),
		"exp":           now.Add(time.Hour).Unix(),
		"scope":         "auth",
		"idp":           "seayoo",
		"external_id":   "1999",
		"external_name": "player",
		"distro":        "android",
		"variant":       "hykb",
		"age":           16,
		"device_id":     "e46aef3cfa571955",
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(seayooSecret))
}

// ---------------------------------------------------------------------------
// the driver

type options struct {
	caddy    string
	wrk      string
	rounds   int
	duration time.Duration
	warmup   time.Duration
	threads  int
	conns    int
	timeout  time.Duration
	keep     bool
	verbose  bool
	waitIdle time.Duration
	pprofDir string
	nice     int
	control  bool
}

type scenario struct {
	id, name, path string
	port           int
	static         string // F/G: the scenario whose answer they serve
	wantBody       string // expected body ("" = not checked)
}

type sample struct {
	rps, p50, p99 float64 // req/s, seconds
	requests      int64
	caddyCPU      float64 // seconds
	auxCPU        float64 // seconds (upstream + verifier)
	otherLoad     float64 // share of the machine's CPUs busy with processes not ours
	bad           int64   // non-2xx answers + connect/read/write errors
	timeouts      int64   // wrk's request timeouts (2 s): a starved machine, not a wrong answer
	wrkCPU        float64 // seconds
}

func driverMain() int {
	var o options
	quick := false
	flag.StringVar(&o.caddy, "caddy", "bin/caddy", "Caddy binary built with caddy-gameauth")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds per scenario (scenarios alternate within a round)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "wrk duration of one run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up run per scenario before the rounds (0: none)")
	flag.IntVar(&o.threads, "t", 1, "wrk threads")
	flag.IntVar(&o.conns, "c", 32, "wrk connections")
	flag.DurationVar(&o.timeout, "timeout", 8*time.Minute, "hard limit of the whole run")
	flag.BoolVar(&quick, "quick", false, "smoke test: 1 round of 2s, 1s warm-up")
	flag.DurationVar(&o.waitIdle, "wait-idle", time.Minute, "before the rounds, wait up to this long for the machine to be idle (other processes < 15% CPU)")
	flag.StringVar(&o.pprofDir, "pprof", "", "after the rounds, run each scenario once more while taking a CPU profile of Caddy into DIR/<scenario>.pprof")
	flag.IntVar(&o.nice, "nice", 0, "nice value (process and autogroup) for everything the benchmark starts, e.g. -10 on a busy shared machine (needs root)")
	flag.BoolVar(&o.control, "control", false, "add scenario H: reverse_proxy with B's identity headers set by a static headers handler (what forwarding them costs, without verifying)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (config, logs)")
	flag.BoolVar(&o.verbose, "v", false, "print every wrk run")
	flag.Parse()
	if quick {
		o.rounds, o.duration, o.warmup = 1, 2*time.Second, time.Second
	}
	// wrk takes whole seconds.
	if o.rounds < 1 || o.duration < time.Second || o.duration%time.Second != 0 || o.warmup%time.Second != 0 ||
		o.threads < 1 || o.conns < o.threads {
		fmt.Fprintln(os.Stderr, "loadbench: bad -rounds/-duration/-warmup/-t/-c (durations in whole seconds)")
		return 2
	}
	nScenarios := 7
	if o.control {
		nScenarios++
	}
	rounds := o.rounds
	if o.pprofDir != "" {
		rounds++
	}
	if est := time.Duration(nScenarios)*(time.Duration(rounds)*(o.duration+300*time.Millisecond)+o.warmup) + o.waitIdle; est+30*time.Second > o.timeout {
		fmt.Fprintf(os.Stderr, "loadbench: these rounds take about %s, over -timeout %s\n", est.Round(time.Second), o.timeout)
		return 2
	}

	if o.nice != 0 {
		// Children inherit the nice value of the thread that forks them:
		// main's thread (locked in init) starts them all.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, o.nice); err != nil {
			fmt.Fprintf(os.Stderr, "loadbench: -nice %d: %v (going on)\n", o.nice, err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	r := &runner{opt: o}
	err := r.run(ctx)
	r.stopAll()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		if r.dir != "" {
			fmt.Fprintln(os.Stderr, "loadbench: logs kept in", r.dir)
		}
		return 1
	}
	if !o.keep && r.dir != "" {
		_ = os.RemoveAll(r.dir)
	} else if r.dir != "" {
		fmt.Fprintln(os.Stderr, "loadbench: work directory", r.dir)
	}
	if r.failed {
		return 1
	}
	return 0
}

type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

type runner struct {
	opt      options
	dir      string
	children []*child
	token    string
	clkTck   float64
	caddyPID int
	auxPIDs  []int
	failed   bool
}

// start launches a child in its own process group, killed if we die.
func (r *runner) start(name string, stdout io.Writer, path string, args ...string) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = r.procAttr()
	logf, err := os.Create(filepath.Join(r.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	if stdout == nil {
		stdout = logf
	}
	cmd.Stdout, cmd.Stderr = stdout, logf
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+r.dir, "XDG_DATA_HOME="+r.dir, "HOME="+r.dir)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	r.setAutogroupNice(cmd.Process.Pid)
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(c.done) }()
	r.children = append(r.children, c)
	return c, nil
}

// procAttr: each child leads its own process group (stopAll signals the
// group) and is killed if the driver dies. With -nice, each child also
// gets its own session, hence its own scheduler autogroup, whose nice
// value setAutogroupNice sets: with autogroups (Linux's default), the nice
// value of a process only counts inside its autogroup.
func (r *runner) procAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if r.opt.nice != 0 {
		a.Setpgid, a.Setsid = false, true
	}
	return a
}

func (r *runner) setAutogroupNice(pid int) {
	if r.opt.nice == 0 {
		return
	}
	// Absent without CONFIG_SCHED_AUTOGROUP; then the process nice value,
	// inherited from the driver's main thread, is what counts.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/autogroup", pid), []byte(strconv.Itoa(r.opt.nice)), 0)
}

// stopAll sends SIGTERM to every child's group, then SIGKILL after 3s.
func (r *runner) stopAll() {
	for _, c := range r.children {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(3 * time.Second)
	for _, c := range r.children {
		select {
		case <-c.done:
		case <-deadline:
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
		}
	}
	r.children = nil
}

// startServer starts "loadbench <kind>" and reads the address it printed.
func (r *runner) startServer(ctx context.Context, kind string) (string, int, error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, err
	}
	pr, pw := io.Pipe()
	c, err := r.start(kind, pw, self, kind)
	if err != nil {
		return "", 0, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			addrc <- sc.Text()
		}
		close(addrc)
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case a, ok := <-addrc:
		if !ok {
			return "", 0, fmt.Errorf("%s exited without an address (see %s.log)", kind, kind)
		}
		return a, c.cmd.Process.Pid, nil
	case <-c.done:
		return "", 0, fmt.Errorf("%s exited (see %s/%s.log)", kind, r.dir, kind)
	case <-time.After(10 * time.Second):
		return "", 0, fmt.Errorf("%s did not start", kind)
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (r *runner) run(ctx context.Context) error {
	o := r.opt
	if _, err := exec.LookPath(o.wrk); err != nil {
		return fmt.Errorf("wrk not found (apt-get install -y wrk): %w", err)
	}
	caddyBin, err := filepath.Abs(o.caddy)
	if err != nil {
		return err
	}
	if _, err := os.Stat(caddyBin); err != nil {
		return fmt.Errorf("caddy binary: %w (build it with: go build -o bin/caddy ./cmd/caddy)", err)
	}
	if r.dir, err = os.MkdirTemp("", "loadbench-"); err != nil {
		return err
	}
	r.clkTck = clockTicks()
	if r.token, err = mintToken(time.Now()); err != nil {
		return err
	}

	upAddr, upPID, err := r.startServer(ctx, "upstream")
	if err != nil {
		return err
	}
	verAddr, verPID, err := r.startServer(ctx, "verifier")
	if err != nil {
		return err
	}
	r.auxPIDs = []int{upPID, verPID}

	scen := []*scenario{
		{id: "A", name: "reverse_proxy", path: "/api/ping", wantBody: upstreamBody},
		{id: "B", name: "gameauth seayoo + reverse_proxy", path: "/api/ping", wantBody: upstreamBody},
		{id: "C", name: "forward_auth (Go verifier) + reverse_proxy", path: "/api/ping", wantBody: upstreamBody},
		{id: "D", name: "gameauth seayoo + issuer zego", path: "/tokens/zego"},
		{id: "E", name: "gameauth seayoo + issuer twilio", path: "/tokens/twilio"},
		{id: "F", name: "static_response, size of D", path: "/tokens/zego", static: "D"},
		{id: "G", name: "static_response, size of E", path: "/tokens/twilio", static: "E"},
		{id: "I", name: "gameauth seayoo, claim_headers all + r_p", path: "/api/ping", wantBody: upstreamBody},
		{id: "J", name: "gameauth (claim_headers id) + issuer zego", path: "/tokens/zego"},
		{id: "K", name: "gameauth (claim_headers id) + issuer twilio", path: "/tokens/twilio"},
	}
	if o.control {
		scen = append(scen, &scenario{id: "H", name: "reverse_proxy + B's X-Auth-* (static)", path: "/api/ping", wantBody: upstreamBody})
	}
	byID := map[string]*scenario{}
	for _, s := range scen {
		if s.port, err = freePort(); err != nil {
			return err
		}
		byID[s.id] = s
	}
	adminPort, err := freePort()
	if err != nil {
		return err
	}
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)

	// First config: F and G answer a placeholder until D and E are probed.
	statics := map[string]staticAnswer{"D": {body: "{}"}, "E": {body: "{}"}}
	var identity map[string]string // the X-Auth-* headers B's upstream receives
	cfg := caddyConfig(admin, upAddr, verAddr, scen, statics, identity)
	cfgPath := filepath.Join(r.dir, "caddy.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return err
	}
	caddy, err := r.start("caddy", nil, caddyBin, "run", "--config", cfgPath)
	if err != nil {
		return err
	}
	r.caddyPID = caddy.cmd.Process.Pid
	if err := waitReady(ctx, caddy, fmt.Sprintf("http://%s/config/", admin)); err != nil {
		return fmt.Errorf("caddy: %w (see %s/caddy.log)", err, r.dir)
	}

	// Probe every scenario once; take D's and E's answers for F and G.
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, s := range scen {
		if s.static != "" {
			continue
		}
		ans, err := probe(ctx, hc, s, r.token)
		if err != nil {
			return err
		}
		if s.wantBody != "" && ans.body != s.wantBody {
			return fmt.Errorf("%s: body %q, want %q", s.id, ans.body, s.wantBody)
		}
		if s.id == "D" || s.id == "E" || s.id == "J" || s.id == "K" {
			var m map[string]any
			if err := json.Unmarshal([]byte(ans.body), &m); err != nil || m["token"] == nil || m["user_id"] != seayooUser {
				return fmt.Errorf("%s: unexpected answer %q", s.id, ans.body)
			}
			statics[s.id] = ans
		}
	}
	// B, C and I pass the verified user to the upstream (and A does not);
	// I (claim_headers all) passes every claim as well.
	for _, id := range []string{"A", "B", "C", "I"} {
		got, err := upstreamHeaders(ctx, hc, byID[id], r.token)
		if err != nil {
			return err
		}
		if want := map[string]string{"A": "", "B": seayooUser, "C": seayooUser, "I": seayooUser}[id]; got["X-Auth-User-Id"] != want {
			return fmt.Errorf("%s: upstream got X-Auth-User-Id %q, want %q", id, got["X-Auth-User-Id"], want)
		}
		if id == "I" && len(got) < 9 {
			return fmt.Errorf("I: upstream got %v, want every claim", got)
		}
		if id == "B" {
			identity = got
		}
	}
	// The auth scenarios refuse a request without a token.
	for _, id := range []string{"B", "C", "D", "E", "I", "J", "K"} {
		if code, err := status(ctx, hc, byID[id], ""); err != nil || code != http.StatusUnauthorized {
			return fmt.Errorf("%s without a token: status %d, %v (want 401)", id, code, err)
		}
	}
	cfg = caddyConfig(admin, upAddr, verAddr, scen, statics, identity)
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return err
	}
	if err := loadConfig(ctx, hc, admin, cfg); err != nil {
		return err
	}
	if o.control {
		got, err := upstreamHeaders(ctx, hc, byID["H"], r.token)
		if err != nil {
			return err
		}
		if len(got) != len(identity) || got["X-Auth-User-Id"] != seayooUser {
			return fmt.Errorf("H: upstream got %v, want %v", got, identity)
		}
	}
	for _, id := range []string{"F", "G"} {
		s := byID[id]
		want := statics[s.static]
		ans, err := probe(ctx, hc, s, r.token)
		if err != nil {
			return err
		}
		if len(ans.body) != len(want.body) || ans.header != want.header {
			return fmt.Errorf("%s: answer (%d bytes, %s) differs from %s's (%d bytes, %s)",
				id, len(ans.body), ans.header, s.static, len(want.body), want.header)
		}
	}
	fmt.Fprintf(os.Stderr, "loadbench: caddy pid %d, wrk -t%d -c%d -d%s --latency, %d round(s); D answer %d bytes, E answer %d bytes\n",
		r.caddyPID, o.threads, o.conns, o.duration, o.rounds, len(statics["D"].body), len(statics["E"].body))

	if o.waitIdle > 0 {
		if err := waitIdle(ctx, o.waitIdle); err != nil {
			return err
		}
	}
	groups := [][]*scenario{
		{byID["A"], byID["B"], byID["C"], byID["I"]},
		{byID["D"], byID["F"], byID["E"], byID["G"], byID["J"], byID["K"]},
	}
	if o.control {
		groups[0] = append(groups[0], byID["H"])
	}
	if o.warmup > 0 {
		for _, s := range scen {
			if _, err := r.wrk(ctx, s, o.warmup); err != nil {
				return fmt.Errorf("warm-up %s: %w", s.id, err)
			}
		}
	}
	results := map[string][]sample{}
	var timeouts int64
	for _, g := range groups {
		for round := 1; round <= o.rounds; round++ {
			// Every other round runs the group backwards (A B C I, then
			// I C B A): a drift of the machine's speed over a round then
			// favours each side of a pair alike, also for pairs that are
			// not next to each other.
			order := g
			if round%2 == 0 {
				order = slices.Clone(g)
				slices.Reverse(order)
			}
			for _, s := range order {
				smp, err := r.measure(ctx, s)
				if err != nil {
					return fmt.Errorf("%s round %d: %w", s.id, round, err)
				}
				if smp.bad > 0 {
					r.failed = true
				}
				timeouts += smp.timeouts
				results[s.id] = append(results[s.id], smp)
				if o.verbose {
					fmt.Fprintf(os.Stderr, "  round %d %s: %.0f req/s p50 %s p99 %s caddy %.1f µs/req bad %d other %.0f%%\n",
						round, s.id, smp.rps, fmtDur(smp.p50), fmtDur(smp.p99), smp.caddyCPU*1e6/float64(smp.requests), smp.bad, smp.otherLoad*100)
				}
			}
		}
	}
	if o.pprofDir != "" {
		if err := r.profiles(ctx, admin, scen); err != nil {
			return err
		}
	}
	printTable(os.Stdout, o, scen, results)
	if timeouts > 0 {
		fmt.Fprintf(os.Stderr, "loadbench: %d requests timed out in wrk (2 s): the machine was starved; figures are unreliable\n", timeouts)
	}
	if r.failed {
		fmt.Fprintln(os.Stderr, "loadbench: some requests failed (non-2xx answers or connect/read/write errors): see the bad column")
	}
	return nil
}

// profiles runs each scenario once more (not counted) while fetching a CPU
// profile from Caddy's admin endpoint (/debug/pprof/profile).
func (r *runner) profiles(ctx context.Context, admin string, scen []*scenario) error {
	dir, err := filepath.Abs(r.opt.pprofDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	secs := int(r.opt.duration/time.Second) - 1
	if secs < 1 {
		secs = 1
	}
	for _, s := range scen {
		errc := make(chan error, 1)
		path := filepath.Join(dir, s.id+".pprof")
		go func() {
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := (&http.Client{Timeout: time.Duration(secs+20) * time.Second}).Do(req)
			if err != nil {
				errc <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errc <- fmt.Errorf("pprof: status %d", resp.StatusCode)
				return
			}
			b, err := io.ReadAll(resp.Body)
			if err == nil {
				err = os.WriteFile(path, b, 0o644)
			}
			errc <- err
		}()
		smp, err := r.wrk(ctx, s, r.opt.duration)
		if err != nil {
			return fmt.Errorf("%s profile run: %w", s.id, err)
		}
		if err := <-errc; err != nil {
			return fmt.Errorf("%s profile: %w", s.id, err)
		}
		// The profile covers secs of the run's duration: about this many requests.
		n := int64(float64(smp.requests) * float64(secs) / r.opt.duration.Seconds())
		fmt.Fprintf(os.Stderr, "loadbench: %s.pprof: %ds of a %.0f req/s run, about %d requests\n", s.id, secs, smp.rps, n)
	}
	fmt.Fprintf(os.Stderr, "loadbench: CPU profiles of Caddy in %s (go tool pprof -top bin/caddy %s/B.pprof)\n", dir, dir)
	return nil
}

func waitReady(ctx context.Context, c *child, url string) error {
	deadline := time.Now().Add(20 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return errors.New("exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("not ready after 20s")
}

type staticAnswer struct {
	body   string
	header string // Content-Type|Cache-Control|Pragma
}

func (s *scenario) url() string { return fmt.Sprintf("http://127.0.0.1:%d%s", s.port, s.path) }

func probe(ctx context.Context, hc *http.Client, s *scenario, token string) (staticAnswer, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return staticAnswer{}, fmt.Errorf("%s: %w", s.id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return staticAnswer{}, fmt.Errorf("%s: %w", s.id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return staticAnswer{}, fmt.Errorf("%s: status %d: %s", s.id, resp.StatusCode, body)
	}
	h := resp.Header
	return staticAnswer{body: string(body), header: h.Get("Content-Type") + "|" + h.Get("Cache-Control") + "|" + h.Get("Pragma")}, nil
}

// upstreamHeaders asks the upstream, through scenario s, which X-Auth-*
// headers it received.
func upstreamHeaders(ctx context.Context, hc *http.Client, s *scenario, token string) (map[string]string, error) {
	u := *s
	u.path = "/_headers"
	ans, err := probe(ctx, hc, &u, token)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	if err := json.Unmarshal([]byte(ans.body), &got); err != nil {
		return nil, fmt.Errorf("%s: /_headers: %w", s.id, err)
	}
	return got, nil
}

func status(ctx context.Context, hc *http.Client, s *scenario, token string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func loadConfig(ctx context.Context, hc *http.Client, admin string, cfg []byte) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/load", bytes.NewReader(cfg))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("caddy /load: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("caddy /load: %d %s", resp.StatusCode, b)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Caddy's configuration

type obj = map[string]any

func caddyConfig(admin, upstream, verifier string, scen []*scenario, statics map[string]staticAnswer, identity map[string]string) []byte {
	gameauth := obj{
		"handler":   "gameauth",
		"verifiers": []any{obj{"verifier": "seayoo", "secret": seayooSecret, "game_id": seayooGame}},
	}
	gameauthIDOnly := obj{}
	for k, v := range gameauth {
		gameauthIDOnly[k] = v
	}
	gameauthIDOnly["claim_headers"] = []string{"id"}
	gameauthAll := obj{}
	for k, v := range gameauth {
		gameauthAll[k] = v
	}
	gameauthAll["claim_headers"] = []string{"all"}
	proxy := obj{"handler": "reverse_proxy", "upstreams": []any{obj{"dial": upstream}}}
	// What the Caddyfile's forward_auth expands to (caddy adapt of
	// "forward_auth <verifier> { uri /verify; copy_headers X-Auth-User-Id }").
	forwardAuth := obj{
		"handler":   "reverse_proxy",
		"upstreams": []any{obj{"dial": verifier}},
		"rewrite":   obj{"method": "GET", "uri": "/verify"},
		"headers": obj{"request": obj{"set": obj{
			"X-Forwarded-Method": []string{"{http.request.method}"},
			"X-Forwarded-Uri":    []string{"{http.request.uri}"},
		}}},
		"handle_response": []any{obj{
			"match": obj{"status_code": []int{2}},
			"routes": []any{
				obj{"handle": []any{obj{"handler": "vars"}}},
				obj{"handle": []any{obj{"handler": "headers", "request": obj{"delete": []string{"X-Auth-User-Id"}}}}},
				obj{
					"handle": []any{obj{"handler": "headers", "request": obj{"set": obj{
						"X-Auth-User-Id": []string{"{http.reverse_proxy.header.X-Auth-User-Id}"},
					}}}},
					"match": []any{obj{"not": []any{obj{"vars": obj{"{http.reverse_proxy.header.X-Auth-User-Id}": []string{""}}}}}},
				},
			},
		}},
	}
	zego := obj{"handler": "gameauth_issuer", "issuer": obj{
		"issuer": "zego", "app_id": 1234567890, "secret": "0123456789abcdef0123456789abcdef",
	}}
	twilio := obj{"handler": "gameauth_issuer", "issuer": obj{
		"issuer":         "twilio",
		"account_sid":    "AC0123456789abcdef0123456789abcdef",
		"api_key_sid":    "SKfedcba9876543210fedcba9876543210",
		"api_key_secret": "demo-twilio-api-key-secret",
	}}
	static := func(a staticAnswer) obj {
		h := strings.Split(a.header+"||", "|")
		hdr := obj{}
		for i, name := range []string{"Content-Type", "Cache-Control", "Pragma"} {
			if h[i] != "" {
				hdr[name] = []string{h[i]}
			}
		}
		return obj{"handler": "static_response", "status_code": 200, "headers": hdr, "body": a.body}
	}

	servers := obj{}
	for _, s := range scen {
		var handle []any
		switch s.id {
		case "A":
			handle = []any{proxy}
		case "B":
			handle = []any{gameauth, proxy}
		case "I":
			handle = []any{gameauthAll, proxy}
		case "C":
			handle = []any{forwardAuth, proxy}
		case "D":
			handle = []any{gameauth, zego}
		case "E":
			handle = []any{gameauth, twilio}
		case "J":
			handle = []any{gameauthIDOnly, zego}
		case "K":
			handle = []any{gameauthIDOnly, twilio}
		case "F", "G":
			handle = []any{static(statics[s.static])}
		case "H":
			set := obj{}
			for k, v := range identity {
				set[k] = []string{v}
			}
			handle = []any{obj{"handler": "headers", "request": obj{"set": set}}, proxy}
		}
		servers[s.id] = obj{
			"listen":          []string{fmt.Sprintf("127.0.0.1:%d", s.port)},
			"automatic_https": obj{"disable": true},
			"routes":          []any{obj{"handle": handle, "terminal": true}},
		}
	}
	cfg := obj{
		"admin":   obj{"listen": admin, "config": obj{"persist": false}},
		"logging": obj{"logs": obj{"default": obj{"level": "WARN"}}},
		"apps":    obj{"http": obj{"servers": servers}},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// ---------------------------------------------------------------------------
// wrk and /proc

func (r *runner) measure(ctx context.Context, s *scenario) (sample, error) {
	c0, err := cpuSeconds(r.caddyPID, r.clkTck)
	if err != nil {
		return sample{}, err
	}
	a0 := r.auxCPU()
	m0, t0 := machineBusy(r.clkTck), time.Now()
	smp, err := r.wrk(ctx, s, r.opt.duration)
	if err != nil {
		return sample{}, err
	}
	c1, err := cpuSeconds(r.caddyPID, r.clkTck)
	if err != nil {
		return sample{}, err
	}
	m1, wall := machineBusy(r.clkTck), time.Since(t0).Seconds()
	smp.caddyCPU = c1 - c0
	smp.auxCPU = r.auxCPU() - a0
	other := (m1 - m0) - smp.caddyCPU - smp.auxCPU - smp.wrkCPU
	smp.otherLoad = max(0, other/(wall*float64(runtime.NumCPU())))
	if smp.requests == 0 {
		return sample{}, errors.New("wrk made no request")
	}
	return smp, nil
}

func (r *runner) auxCPU() float64 {
	var sum float64
	for _, pid := range r.auxPIDs {
		v, _ := cpuSeconds(pid, r.clkTck)
		sum += v
	}
	return sum
}

func (r *runner) wrk(ctx context.Context, s *scenario, d time.Duration) (sample, error) {
	wctx, cancel := context.WithTimeout(ctx, d+20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(wctx, r.opt.wrk,
		"-t"+strconv.Itoa(r.opt.threads), "-c"+strconv.Itoa(r.opt.conns),
		"-d"+strconv.Itoa(int(d/time.Second))+"s", "--latency",
		"-H", "Authorization: Bearer "+r.token, s.url())
	cmd.SysProcAttr = r.procAttr()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return sample{}, fmt.Errorf("wrk: %v", err)
	}
	r.setAutogroupNice(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		return sample{}, fmt.Errorf("wrk: %v: %s%s", err, errb.String(), out.String())
	}
	smp, err := parseWrk(out.String())
	if err != nil {
		return sample{}, fmt.Errorf("%w in wrk output:\n%s", err, out.String())
	}
	smp.wrkCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return smp, nil
}

var (
	reRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	reReqs     = regexp.MustCompile(`(?m)^\s*([0-9]+) requests in `)
	reP50      = regexp.MustCompile(`(?m)^\s*50(?:\.000)?%\s+([0-9.]+)(us|ms|s|m)\b`)
	reP99      = regexp.MustCompile(`(?m)^\s*99(?:\.000)?%\s+([0-9.]+)(us|ms|s|m)\b`)
	reNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s+([0-9]+)`)
	reSockErrs = regexp.MustCompile(`(?m)^\s*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// parseWrk reads wrk's --latency report.
func parseWrk(s string) (sample, error) {
	var smp sample
	m := reRPS.FindStringSubmatch(s)
	if m == nil {
		return smp, errors.New("no Requests/sec")
	}
	smp.rps, _ = strconv.ParseFloat(m[1], 64)
	if m = reReqs.FindStringSubmatch(s); m == nil {
		return smp, errors.New("no request count")
	}
	smp.requests, _ = strconv.ParseInt(m[1], 10, 64)
	var ok bool
	if smp.p50, ok = wrkDur(reP50.FindStringSubmatch(s)); !ok {
		return smp, errors.New("no 50% latency (--latency)")
	}
	if smp.p99, ok = wrkDur(reP99.FindStringSubmatch(s)); !ok {
		return smp, errors.New("no 99% latency (--latency)")
	}
	if m = reNon2xx.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		smp.bad += n
	}
	if m = reSockErrs.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:4] {
			n, _ := strconv.ParseInt(v, 10, 64)
			smp.bad += n
		}
		smp.timeouts, _ = strconv.ParseInt(m[4], 10, 64)
	}
	return smp, nil
}

func wrkDur(m []string) (float64, bool) {
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	switch m[2] {
	case "us":
		v *= 1e-6
	case "ms":
		v *= 1e-3
	case "m":
		v *= 60
	}
	return v, true
}

// cpuSeconds is utime+stime of pid (all its threads) from /proc/<pid>/stat.
func cpuSeconds(pid int, clkTck float64) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields restart after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return float64(ut+st) / clkTck, nil
}

// waitIdle waits up to max for a second in which the machine's CPUs are
// less than 15% busy (nothing of ours is running then but idle servers).
func waitIdle(ctx context.Context, max time.Duration) error {
	clk := clockTicks()
	deadline := time.Now().Add(max)
	said := false
	for {
		b0, t0 := machineBusy(clk), time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		load := (machineBusy(clk) - b0) / (time.Since(t0).Seconds() * float64(runtime.NumCPU()))
		if load < 0.15 {
			if said {
				fmt.Fprintf(os.Stderr, "loadbench: machine idle (%.0f%% busy), starting\n", load*100)
			}
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "loadbench: machine still %.0f%% busy after %s: measuring anyway (see the other column)\n", load*100, max)
			return nil
		}
		if !said {
			fmt.Fprintf(os.Stderr, "loadbench: machine %.0f%% busy with other processes: waiting up to %s for it to settle\n", load*100, max)
			said = true
		}
	}
}

// machineBusy is the CPU time (seconds, all CPUs) the machine spent busy,
// from the first line of /proc/stat; 0 if unreadable.
func machineBusy(clkTck float64) float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, _ := strconv.ParseUint(f[i], 10, 64)
		busy += v
	}
	return float64(busy) / clkTck
}

func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}

// ---------------------------------------------------------------------------
// the table

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type summary struct{ rps, p50, p99, cpu, aux, other float64 }

func summarize(ss []sample) (summary, int64) {
	var rps, p50, p99, cpu, aux, other []float64
	var bad int64
	for _, s := range ss {
		rps = append(rps, s.rps)
		p50 = append(p50, s.p50)
		p99 = append(p99, s.p99)
		cpu = append(cpu, s.caddyCPU*1e6/float64(s.requests))
		aux = append(aux, s.auxCPU*1e6/float64(s.requests))
		other = append(other, s.otherLoad)
		bad += s.bad
	}
	return summary{median(rps), median(p50), median(p99), median(cpu), median(aux), slices.Max(other)}, bad
}

// pairedRatios returns f(a[i])/f(b[i]) for each round i that both have.
func pairedRatios(a, b []sample, f func(sample) float64) []float64 {
	n := min(len(a), len(b))
	out := make([]float64, 0, n)
	for i := range n {
		if d := f(b[i]); d > 0 {
			out = append(out, f(a[i])/d)
		}
	}
	if len(out) == 0 {
		out = append(out, 0)
	}
	return out
}

func fmtDur(sec float64) string {
	switch {
	case sec < 1e-3:
		return fmt.Sprintf("%.0fµs", sec*1e6)
	case sec < 1:
		return fmt.Sprintf("%.2fms", sec*1e3)
	default:
		return fmt.Sprintf("%.2fs", sec)
	}
}

func printTable(w io.Writer, o options, scen []*scenario, results map[string][]sample) {
	sum := map[string]summary{}
	maxOther := 0.0
	fmt.Fprintf(w, "\nwrk -t%d -c%d -d%s --latency, %d alternating round(s); medians over rounds; CPU = utime+stime from /proc per request\n\n",
		o.threads, o.conns, o.duration, o.rounds)
	const row = "%-46s %8s %9s %9s %12s %15s %5s %6s\n"
	fmt.Fprintf(w, row, "scenario", "req/s", "p50", "p99", "caddy µs/req", "up+verif µs/req", "bad", "other")
	for _, s := range scen {
		sm, bad := summarize(results[s.id])
		sum[s.id] = sm
		fmt.Fprintf(w, row, s.id+"  "+s.name, fmt.Sprintf("%.0f", sm.rps), fmtDur(sm.p50), fmtDur(sm.p99),
			fmt.Sprintf("%.1f", sm.cpu), fmt.Sprintf("%.1f", sm.aux), strconv.FormatInt(bad, 10),
			fmt.Sprintf("%.0f%%", sm.other*100))
		maxOther = max(maxOther, sm.other)
	}
	fmt.Fprintln(w, "(other: highest share of the machine's CPU used by processes not started here, over the rounds)")
	if maxOther > 0.05 {
		fmt.Fprintf(w, "warning: other processes used up to %.0f%% of the CPUs during a round: req/s and latencies are disturbed; CPU µs/req less so\n", maxOther*100)
	}
	fmt.Fprintf(w, "\nratios: of the medians (req/s, caddy CPU µs/req), then the median and range of the per-round ratios\n"+
		"(each round runs the two side by side, so these cancel the machine's drift between rounds) for req/s and p50\n")
	pairs := [][2]string{{"B", "A"}, {"I", "A"}, {"C", "A"}, {"B", "C"}, {"D", "F"}, {"E", "G"}, {"J", "F"}, {"K", "G"}}
	if _, ok := sum["H"]; ok {
		pairs = append(pairs, [2]string{"H", "A"}, [2]string{"B", "H"})
	}
	for _, p := range pairs {
		a, b := sum[p[0]], sum[p[1]]
		rps := pairedRatios(results[p[0]], results[p[1]], func(s sample) float64 { return s.rps })
		p50 := pairedRatios(results[p[0]], results[p[1]], func(s sample) float64 { return s.p50 })
		fmt.Fprintf(w, "  %s/%s  req/s %.3f   CPU/req %.2f   per round: req/s %.3f (%.3f–%.3f)  p50 %.3f\n",
			p[0], p[1], a.rps/b.rps, a.cpu/b.cpu, median(rps), slices.Min(rps), slices.Max(rps), median(p50))
	}
	if ba := median(pairedRatios(results["B"], results["A"], func(s sample) float64 { return s.rps })); ba < 0.95 {
		fmt.Fprintf(w, "\nnote: B/A = %.3f < 0.95 (median per round): gameauth costs %.1f µs of Caddy CPU per request over plain reverse_proxy (%.1f vs %.1f)\n",
			ba, sum["B"].cpu-sum["A"].cpu, sum["B"].cpu, sum["A"].cpu)
	}
}

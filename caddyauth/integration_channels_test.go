package caddyauth_test

// Side channels around the identity promise (issue 14), through a real
// in-process Caddy whose reverse_proxy talks to a raw recording upstream:
// a bare TCP listener that parses what Caddy sends byte by byte (request
// line, header lines as sent, Content-Length or chunked body, and the
// trailer section after the last chunk), as an attacker's own proxy would
// see it. Clients speak HTTP/1.1 (raw TCP writes) and h2c (net/http with
// unencrypted HTTP/2 only). This file holds the upstream, Caddy's
// configuration, the clients and the checks; the rows are in
// integration_channels_more_test.go. Run them alone:
// go test ./caddyauth/ -run TestChannels -race

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// --- the raw recording upstream ---------------------------------------------

// Bounds of the raw upstream: every read has a deadline and every part of a
// request a size cap.
const (
	rawMaxLine     = 64 << 10         // one request, header, chunk-size or trailer line
	rawMaxFields   = 256              // header lines, and trailer lines
	rawMaxBody     = 1 << 20          // decoded body bytes
	rawMaxRequests = 200              // requests on one connection
	rawIdle        = 60 * time.Second // wait for the next request on a kept-alive connection
	rawReadTime    = 5 * time.Second  // to read one whole request once it has begun
)

// rawField is one header or trailer line exactly as sent.
type rawField struct{ name, value string }

// rawSeen is one request as the upstream read it off the wire.
type rawSeen struct {
	conn     int // number of the upstream connection it came on (keep-alive shows as reuse)
	line     string
	method   string
	uri      string
	proto    string
	headers  []rawField
	chunked  bool
	body     []byte
	trailers []rawField
}

// rawValues returns the values of every line whose name equals name in any case.
func rawValues(fields []rawField, name string) []string {
	var out []string
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// hasToken reports whether a comma-separated header (Connection) names tok.
func (s *rawSeen) hasToken(name, tok string) bool {
	for _, v := range rawValues(s.headers, name) {
		for p := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), tok) {
				return true
			}
		}
	}
	return false
}

func (s *rawSeen) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  [upstream connection %d]\n  %s\n", s.conn, s.line)
	for _, f := range s.headers {
		fmt.Fprintf(&b, "  %s: %s\n", f.name, f.value)
	}
	framing := "Content-Length"
	if s.chunked {
		framing = "chunked"
	}
	fmt.Fprintf(&b, "  <body %d bytes, %s: %q>\n", len(s.body), framing, s.body)
	if len(s.trailers) > 0 {
		b.WriteString("  -- trailer section --\n")
		for _, f := range s.trailers {
			fmt.Fprintf(&b, "  %s: %s\n", f.name, f.value)
		}
	}
	return b.String()
}

// rawDump shows what the upstream received, for failure messages.
func rawDump(seen []rawSeen) string {
	if len(seen) == 0 {
		return "upstream received nothing"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "upstream received %d request(s):\n", len(seen))
	for i := range seen {
		b.WriteString(seen[i].String())
	}
	return b.String()
}

// rawUpstream is a loopback HTTP/1.1 server on a bare listener. It records
// every request as read from the wire and answers 200 "upstream ok" (101
// to a WebSocket upgrade, then echoes), keeping connections alive.
type rawUpstream struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	seen  []rawSeen
	errs  []string
	conns map[net.Conn]bool
	n     int
	done  bool
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, conns: map[net.Conn]bool{}}
	u.wg.Add(1)
	go u.serve()
	t.Cleanup(u.close)
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

func (u *rawUpstream) serve() {
	defer u.wg.Done()
	for {
		c, err := u.ln.Accept()
		if err != nil {
			return
		}
		u.mu.Lock()
		if u.done {
			u.mu.Unlock()
			c.Close()
			return
		}
		u.n++
		id := u.n
		u.conns[c] = true
		u.wg.Add(1)
		u.mu.Unlock()
		go u.handle(c, id)
	}
}

func (u *rawUpstream) close() {
	u.ln.Close()
	u.mu.Lock()
	u.done = true
	for c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// take returns what the upstream received since the last call, and any
// bytes it could not parse, and forgets them.
func (u *rawUpstream) take() ([]rawSeen, []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, e := u.seen, u.errs
	u.seen, u.errs = nil, nil
	return s, e
}

func (u *rawUpstream) handle(c net.Conn, id int) {
	defer u.wg.Done()
	defer func() {
		u.mu.Lock()
		delete(u.conns, c)
		u.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReaderSize(c, 16<<10)
	for range rawMaxRequests {
		c.SetReadDeadline(time.Now().Add(rawIdle))
		if _, err := br.Peek(1); err != nil {
			return // the proxy closed an idle connection
		}
		c.SetDeadline(time.Now().Add(rawReadTime))
		s, err := readRawRequest(br)
		if err != nil {
			u.mu.Lock()
			u.errs = append(u.errs, fmt.Sprintf("connection %d: %v", id, err))
			u.mu.Unlock()
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		s.conn = id
		u.mu.Lock()
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		if s.hasToken("Connection", "upgrade") && len(rawValues(s.headers, "Upgrade")) == 1 {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+rawValues(s.headers, "Upgrade")[0]+"\r\n\r\n")
			io.Copy(c, io.LimitReader(br, rawMaxBody)) // echo until the tunnel closes or the deadline
			return
		}
		closing := s.hasToken("Connection", "close") || s.proto != "HTTP/1.1"
		resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
		if closing {
			resp += "Connection: close\r\n"
		}
		if _, err := io.WriteString(c, resp+"\r\nupstream ok"); err != nil || closing {
			return
		}
	}
}

// rawLine reads one CRLF-terminated line of at most rawMaxLine bytes.
func rawLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > rawMaxLine {
			return "", errors.New("line too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		return "", fmt.Errorf("line %q not ended by CRLF", b)
	}
	return string(b[:len(b)-2]), nil
}

// rawFields reads header (or trailer) lines up to the empty line, names and
// values as sent (the value without the optional white space around it).
func rawFields(br *bufio.Reader) ([]rawField, error) {
	var out []rawField
	for {
		line, err := rawLine(br)
		if err != nil {
			return out, err
		}
		if line == "" {
			return out, nil
		}
		if len(out) == rawMaxFields {
			return out, errors.New("too many fields")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return out, fmt.Errorf("malformed field line %q", line)
		}
		out = append(out, rawField{name, strings.Trim(value, " \t")})
	}
}

// readRawRequest reads one request: line, headers, body, trailers.
func readRawRequest(br *bufio.Reader) (rawSeen, error) {
	var s rawSeen
	var err error
	if s.line, err = rawLine(br); err != nil {
		return s, fmt.Errorf("request line: %w", err)
	}
	parts := strings.Split(s.line, " ")
	if len(parts) != 3 {
		return s, fmt.Errorf("malformed request line %q", s.line)
	}
	s.method, s.uri, s.proto = parts[0], parts[1], parts[2]
	if s.headers, err = rawFields(br); err != nil {
		return s, fmt.Errorf("headers: %w", err)
	}
	te, cl := rawValues(s.headers, "Transfer-Encoding"), rawValues(s.headers, "Content-Length")
	switch {
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") || len(cl) > 0 {
			return s, fmt.Errorf("unexpected framing: Transfer-Encoding %q, Content-Length %q", te, cl)
		}
		s.chunked = true
		for {
			line, err := rawLine(br)
			if err != nil {
				return s, fmt.Errorf("chunk size: %w", err)
			}
			size, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
			if err != nil || n < 0 || int64(len(s.body))+n > rawMaxBody {
				return s, fmt.Errorf("bad chunk size line %q", line)
			}
			if n == 0 {
				break
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				return s, fmt.Errorf("chunk data: %w", err)
			}
			if !bytes.HasSuffix(chunk, []byte("\r\n")) {
				return s, errors.New("chunk data not followed by CRLF")
			}
			s.body = append(s.body, chunk[:n]...)
		}
		if s.trailers, err = rawFields(br); err != nil {
			return s, fmt.Errorf("trailer section: %w", err)
		}
	case len(cl) > 0:
		if len(cl) != 1 {
			return s, fmt.Errorf("%d Content-Length lines", len(cl))
		}
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 || n > rawMaxBody {
			return s, fmt.Errorf("bad Content-Length %q", cl[0])
		}
		s.body = make([]byte, n)
		if _, err := io.ReadFull(br, s.body); err != nil {
			return s, fmt.Errorf("body: %w", err)
		}
	}
	return s, nil
}

// --- Caddy ------------------------------------------------------------------

// channelsGlobal are the global options: h2c beside HTTP/1.1.
const channelsGlobal = `{
	admin off
	persist_config off
	log {
		level ERROR
	}
	servers {
		protocols h1 h2c
	}
}
`

// runChannels runs site (whose address is {ADDR}) after replacing the
// old/new pairs of repl, and returns host:port.
func runChannels(t *testing.T, site string, repl ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cf := channelsGlobal + strings.NewReplacer(append([]string{"{ADDR}", "http://" + addr}, repl...)...).Replace(site)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v", err)
	}
	startCaddy(t, cfg)
	return addr
}

// channelsSite has the routes of the trailer, Connection, path,
// forward_token and optional rows.
const channelsSite = `
{ADDR} {
	handle /t/seayoo/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			header X-Player {http.auth.user.id}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /t/optional/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			header X-Player {http.auth.user.id}
			optional
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /t/preflight/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			header X-Player {http.auth.user.id}
			skip_preflight
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /t/taptap/* {
		gameauth {
			claim_headers all
			taptap {
				server LEANCLOUD
				client_id TAP_ID
				client_token TAP_KEY
				timeout 2s
			}
			header X-Player {http.auth.user.id}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /conn/* {
		gameauth {
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			claim_headers id provider age
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /rooms/* {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.uri.path.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /players/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			require id {http.request.uri.path.1}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /orig/* {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {http.request.orig_uri.path.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	@r path_regexp room ^/re/([^/]+)/
	handle @r {
		gameauth {
			claim_headers all
			zego {
				app_id ATK_ZEGO_APP
				secret ATK_ZEGO_SECRET
				room {re.room.1}
			}
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /fwd/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			from_bearer
			from_query access_token
			forward_token off
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle /opt/* {
		gameauth {
			claim_headers all
			seayoo {
				secret SEAYOO_SECRET
				game_id SEAYOO_GAME
			}
			optional
		}
		reverse_proxy RAW_UPSTREAM
	}
	handle {
		respond "no route" 404
	}
	handle_errors {
		respond "{http.auth.gameauth.error}" {http.error.status_code}
	}
}
`

// channelsEnv starts the raw upstream, a fake LeanCloud and Caddy with
// channelsSite; it returns the upstream and Caddy's host:port.
func channelsEnv(t *testing.T) (*rawUpstream, string) {
	t.Helper()
	up := newRawUpstream(t)
	lc := newAttackLeanCloud(t)
	addr := runChannels(t, channelsSite,
		"RAW_UPSTREAM", up.addr(),
		"SEAYOO_SECRET", seayooSecret, "SEAYOO_GAME", seayooGame,
		"ATK_ZEGO_APP", i64(atkZegoAppID), "ATK_ZEGO_SECRET", atkZegoSecret,
		"LEANCLOUD", lc.srv.URL, "TAP_ID", atkTapClientID, "TAP_KEY", atkTapClientKey,
	)
	return up, addr
}

// --- clients ----------------------------------------------------------------

// rawClient is one HTTP/1.1 connection to Caddy, written byte for byte.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
	host string
}

func dialRaw(addr string) (*rawClient, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawClient{conn: c, br: bufio.NewReader(c), host: addr}, nil
}

type chResp struct {
	status int
	header http.Header
	body   string
}

// send writes req ({HOST} replaced) and reads one response.
func (c *rawClient) send(req string) (chResp, error) {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, strings.ReplaceAll(req, "{HOST}", c.host)); err != nil {
		return chResp{}, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return chResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return chResp{resp.StatusCode, resp.Header, string(b)}, err
}

// closedByPeer reports whether Caddy closed the connection (EOF within 3s).
func (c *rawClient) closedByPeer() bool {
	c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// h1Request builds an HTTP/1.1 request with header lines given whole. With
// trailers != nil the body is sent chunked, then the trailer section;
// else with a Content-Length when body is not empty.
func h1Request(method, path string, lines []string, body string, trailers []string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: {HOST}\r\n")
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	switch {
	case trailers != nil:
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if body != "" {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(body), body)
		}
		b.WriteString("0\r\n")
		for _, l := range trailers {
			b.WriteString(l + "\r\n")
		}
		b.WriteString("\r\n")
	case body != "":
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	default:
		b.WriteString("\r\n")
	}
	return b.String()
}

// h2Req is a request sent over h2c with net/http. Trailer keys in declare
// are announced; atEOF values are set when the body ends (a key not
// declared is sent undeclared).
type h2Req struct {
	method, path string
	hdr          map[string][]string
	body         string
	declare      []string
	atEOF        map[string]string
}

// h2TrailerBody sets the request's trailer values when it reaches EOF.
type h2TrailerBody struct {
	r    io.Reader
	req  *http.Request
	set  map[string]string
	done bool
}

func (b *h2TrailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		for k, v := range b.set {
			b.req.Trailer[k] = []string{v}
		}
	}
	return n, err
}

// newH2CClient returns a client that speaks only unencrypted HTTP/2.
func newH2CClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func sendH2C(c *http.Client, addr string, r h2Req) (chResp, error) {
	req, err := http.NewRequest(r.method, "http://"+addr+r.path, nil)
	if err != nil {
		return chResp{}, err
	}
	for k, vs := range r.hdr {
		req.Header[k] = append(req.Header[k], vs...)
	}
	if r.body != "" || len(r.declare) > 0 || len(r.atEOF) > 0 {
		req.Trailer = http.Header{}
		for _, k := range r.declare {
			req.Trailer[k] = nil
		}
		req.Body = io.NopCloser(&h2TrailerBody{r: strings.NewReader(r.body), req: req, set: r.atEOF})
		req.ContentLength = -1
	}
	resp, err := c.Do(req)
	if err != nil {
		return chResp{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.ProtoMajor != 2 {
		err = fmt.Errorf("answered over %s, not h2c", resp.Proto)
	}
	return chResp{resp.StatusCode, resp.Header, string(b)}, err
}

// --- rows and checks --------------------------------------------------------

// chRow is one request and what the client and the upstream must see.
type chRow struct {
	name   string
	raw    string // an HTTP/1.1 request written as is ({HOST} replaced)
	raw2   string // a second request on the same connection, same expectations
	h2     *h2Req // or a request over h2c
	status int
	reason string // the {http.auth.gameauth.error} of a 401/403
	// On a forwarded request: the identity fields the upstream must see as
	// headers, exactly (normalized name → value); nil means none at all.
	// Identity fields never pass in trailers, declared or not.
	ident   map[string]string
	names   []string          // more identity names (normalized header line names)
	body    string            // the body the upstream must see, when set
	noBody  bool              // the upstream must see an empty body
	uri     string            // the request-target the upstream must see, when set
	present map[string]string // other headers (normalized) the upstream must see with exactly this value
	absent  []string          // headers (normalized) the upstream must not see
	closed  bool              // Caddy must close the client connection after answering
}

// chIdentityName reports whether a header or trailer name is an identity
// field: X-Auth-* or a header line's name, in any case, '_' or '.' as '-'.
func chIdentityName(name string, extra []string) bool {
	n := attackNorm(name)
	return strings.HasPrefix(n, "x-auth-") || slices.Contains(extra, n)
}

// checkChSeen asserts what one forwarded request carried.
func checkChSeen(t *testing.T, row chRow, s rawSeen, dump string) {
	t.Helper()
	got := map[string][]string{}
	for _, f := range s.headers {
		if !chIdentityName(f.name, row.names) {
			continue
		}
		n := attackNorm(f.name)
		if f.name != http.CanonicalHeaderKey(n) {
			t.Errorf("identity header spelled %q (value %q) reached the upstream, which gameauth never sets\n%s", f.name, f.value, dump)
		}
		got[n] = append(got[n], f.value)
	}
	for n, vs := range got {
		w, ok := row.ident[n]
		switch {
		case !ok:
			t.Errorf("upstream got identity header %s: %q, which the verified identity did not produce\n%s", n, vs, dump)
		case len(vs) != 1 || vs[0] != w:
			t.Errorf("upstream got identity header %s: %q, want exactly %q\n%s", n, vs, w, dump)
		}
	}
	for n, w := range row.ident {
		if _, ok := got[n]; !ok {
			t.Errorf("upstream lacks identity header %s: %q that gameauth set\n%s", n, w, dump)
		}
	}
	for _, f := range s.trailers {
		if chIdentityName(f.name, row.names) {
			t.Errorf("identity field %q: %q reached the upstream as a TRAILER\n%s", f.name, f.value, dump)
		}
	}
	for _, v := range rawValues(s.headers, "Trailer") {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); chIdentityName(k, row.names) {
				t.Errorf("upstream's Trailer header declares identity field %q\n%s", k, dump)
			}
		}
	}
	if row.noBody && len(s.body) != 0 {
		t.Errorf("upstream body %q, want none\n%s", s.body, dump)
	}
	if row.body != "" && string(s.body) != row.body {
		t.Errorf("upstream body %q, want %q\n%s", s.body, row.body, dump)
	}
	if row.uri != "" && s.uri != row.uri {
		t.Errorf("upstream request-target %q, want %q\n%s", s.uri, row.uri, dump)
	}
	for n, w := range row.present {
		var vs []string
		for _, f := range s.headers {
			if attackNorm(f.name) == n {
				vs = append(vs, f.value)
			}
		}
		if len(vs) != 1 || vs[0] != w {
			t.Errorf("upstream got %s: %q, want exactly %q\n%s", n, vs, w, dump)
		}
	}
	for _, n := range row.absent {
		for _, f := range s.headers {
			if attackNorm(f.name) == n {
				t.Errorf("upstream got %s: %q, which must have been removed\n%s", f.name, f.value, dump)
			}
		}
	}
}

// runChRow sends a row and checks the answer and what the upstream received.
func runChRow(t *testing.T, addr string, up *rawUpstream, h2c *http.Client, row chRow) {
	t.Helper()
	up.take()
	var resps []chResp
	var err error
	closed := false
	if row.h2 != nil {
		var r chResp
		if r, err = sendH2C(h2c, addr, *row.h2); err == nil {
			resps = append(resps, r)
		}
	} else {
		var c *rawClient
		if c, err = dialRaw(addr); err == nil {
			defer c.conn.Close()
			for _, req := range []string{row.raw, row.raw2} {
				if req == "" {
					continue
				}
				var r chResp
				if r, err = c.send(req); err != nil {
					break
				}
				resps = append(resps, r)
			}
			if err == nil && row.closed {
				closed = c.closedByPeer()
			}
		}
	}
	seen, perrs := up.take()
	dump := rawDump(seen)
	if len(perrs) > 0 {
		t.Errorf("upstream could not parse what Caddy sent: %q\n%s", perrs, dump)
	}
	if err != nil {
		t.Fatalf("client: %v (after %d answers)\n%s", err, len(resps), dump)
	}
	forwarded := 0
	for i, r := range resps {
		if r.status != row.status {
			t.Errorf("answer %d: status %d (body %q), want %d\n%s", i+1, r.status, r.body, row.status, dump)
		}
		switch {
		case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
			if row.reason != "" && r.body != row.reason {
				t.Errorf("answer %d: reason %q, want %q", i+1, r.body, row.reason)
			}
		case r.status < 300:
			forwarded++
			if r.body != "upstream ok" {
				t.Errorf("answer %d: body %q, want the upstream's", i+1, r.body)
			}
		}
	}
	if len(seen) != forwarded {
		t.Fatalf("%d request(s) forwarded to the client's %d answer(s) from the upstream (statuses %v)\n%s", len(seen), forwarded, chStatuses(resps), dump)
	}
	for i := range seen {
		checkChSeen(t, row, seen[i], dump)
	}
	if row.closed && !closed {
		t.Errorf("Caddy kept the client connection open after a Connection: close request")
	}
}

func chStatuses(rs []chResp) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.status)
	}
	return out
}

func runChRows(t *testing.T, addr string, up *rawUpstream, h2c *http.Client, rows []chRow) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) { runChRow(t, addr, up, h2c, row) })
	}
}

// chWithIdent returns a copy of m with more name/value pairs.
func chWithIdent(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

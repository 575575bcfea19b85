package caddyauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/internal/jsonstr"
	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

func init() {
	caddy.RegisterModule(IssuerHandler{})
}

// TokenIssuer is implemented by the guest modules of the
// http.gameauth.issuers namespace.
type TokenIssuer interface {
	// IssueToken mints a token for req.UserID, the verified user.
	IssueToken(r *http.Request, req issuers.Request) (issuers.Token, error)
	// requestFields says which optional request fields the issuer takes.
	requestFields() issuerFields
}

// issuerFields describes the request fields an issuer accepts.
type issuerFields struct {
	room     bool // room_id (alias room)
	streams  bool // stream_ids
	publish  bool // publish
	identity bool // echo the user id as "identity" in the answer (Twilio)
}

// issuerOptionParser is implemented by guest issuers so the
// gameauth_issuer directive can hand them the subdirectives it does not
// handle itself.
type issuerOptionParser interface {
	unmarshalOption(p *optionParser, name string) error
}

// DefaultIssuerUser is the default template of the user a token is issued for.
const DefaultIssuerUser = "{http.auth.user.id}"

// IssuerHandler answers token requests with a token minted for the
// identity that a gameauth handler verified earlier on the same request.
// The user is never taken from the request: without a verified identity
// the answer is 401. It takes the optional request fields room_id (alias
// room), stream_ids and publish from a JSON or form POST body or from the
// query string of a GET, and answers JSON
// {"token","user_id","expires_at","expires_in"} with Cache-Control: no-store.
type IssuerHandler struct {
	// IssuerRaw is the token issuer (zego, twilio or cloudbase). Required.
	IssuerRaw json.RawMessage `json:"issuer,omitempty" caddy:"namespace=http.gameauth.issuers inline_key=issuer"`

	// User is the template of the user the token is for. It must evaluate
	// to a verified identity; an empty result is a 401. Default:
	// {http.auth.user.id}
	User string `json:"user,omitempty"`

	// Rooms restricts the rooms tokens are issued for: each entry is a
	// template (e.g. {http.request.uri.path.2}). When set, a request must
	// ask for one of them; if there is only one, it is used when the
	// request names none. Default: any valid room.
	Rooms []string `json:"rooms,omitempty"`

	// AllowPublish lets a request ask for the publish privilege (ZEGO);
	// without it a request that asks is refused with 403. Without
	// AllowStreams the privilege covers every stream of the room.
	// Default: false
	AllowPublish bool `json:"allow_publish,omitempty"`

	// AllowStreams lets a request name stream ids (ZEGO stream_ids), each
	// of which must match one entry: a template (e.g.
	// {http.auth.user.id}_main), or a template ending in * for every id
	// that starts with its value ({http.auth.user.id}_*). When set, a
	// request for the publish privilege must name its streams, so a token
	// never publishes every stream. Default: none (stream_ids refused).
	AllowStreams []string `json:"allow_streams,omitempty"`

	issuer   TokenIssuer
	name     string
	fields   issuerFields
	metrics  *metrics
	issuedOK prometheus.Counter // the "ok" child, resolved at provision
	logger   *zap.Logger
	userKey  string // User's placeholder when User is one placeholder alone
	noUser   *sync.Once
	// policyPath: a rooms or allow_streams template reads request data
	// that may come from the path, so the path must be plain.
	bans       *banState
	policyPath bool // the warning of a request with no identity, once per config load
}

// CaddyModule returns the Caddy module information.
func (IssuerHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.gameauth_issuer",
		New: func() caddy.Module { return new(IssuerHandler) },
	}
}

// Provision loads the issuer.
func (h *IssuerHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.User == "" {
		h.User = DefaultIssuerUser
	}
	if h.IssuerRaw == nil {
		return fmt.Errorf("gameauth_issuer: an issuer is required")
	}
	mod, err := ctx.LoadModule(h, "IssuerRaw")
	if err != nil {
		return fmt.Errorf("loading gameauth issuer: %w", err)
	}
	iss, ok := mod.(TokenIssuer)
	if !ok {
		return fmt.Errorf("module %T is not a gameauth issuer", mod)
	}
	h.setIssuer(ctx, iss)
	h.bans, err = bansOf(ctx)
	return err
}

// setIssuer sets iss and everything derived from it and from User.
func (h *IssuerHandler) setIssuer(ctx caddy.Context, iss TokenIssuer) {
	h.issuer = iss
	h.name = iss.(caddy.Module).CaddyModule().ID.Name()
	h.fields = iss.requestFields()
	h.metrics = newHandlerMetrics(ctx)
	h.issuedOK = h.metrics.issued.WithLabelValues(h.name, "ok")
	h.userKey = soloPlaceholder(h.User)
	h.noUser = new(sync.Once)
	h.policyPath = false
	for _, t := range append(slices.Clone(h.Rooms), h.AllowStreams...) {
		h.policyPath = h.policyPath || usesPath(strings.TrimSuffix(t, "*"))
	}
}

// soloPlaceholder returns key when tmpl is exactly "{key}", a single
// placeholder with nothing around it (as the default user is), else "".
func soloPlaceholder(tmpl string) string {
	key, ok := strings.CutPrefix(tmpl, "{")
	if !ok {
		return ""
	}
	if key, ok = strings.CutSuffix(key, "}"); !ok || key == "" || strings.ContainsAny(key, "{}\\") {
		return ""
	}
	return key
}

// user evaluates the User template. A template that is one placeholder is
// looked up directly, without ReplaceAll's scan; a value that is not a
// string goes through ReplaceAll, which formats it.
func (h *IssuerHandler) user(repl *caddy.Replacer) string {
	if h.userKey != "" {
		v, _ := repl.Get(h.userKey)
		if s, ok := v.(string); ok || v == nil {
			return s
		}
	}
	return repl.ReplaceAll(h.User, "")
}

// Validate checks the configuration.
func (h *IssuerHandler) Validate() error {
	if h.issuer == nil {
		return fmt.Errorf("gameauth_issuer: an issuer is required")
	}
	if len(h.Rooms) > 0 && !h.fields.room {
		return fmt.Errorf("gameauth_issuer: rooms is set but this issuer takes no room")
	}
	if h.AllowPublish && !h.fields.publish {
		return fmt.Errorf("gameauth_issuer: allow_publish is set but this issuer has no publish privilege")
	}
	if len(h.AllowStreams) > 0 && !h.fields.streams {
		return fmt.Errorf("gameauth_issuer: allow_streams is set but this issuer takes no stream ids")
	}
	for _, st := range h.AllowStreams {
		if strings.TrimSuffix(st, "*") == "" || strings.Contains(strings.TrimSuffix(st, "*"), "*") {
			return fmt.Errorf("gameauth_issuer: allow_streams %q: want a template, optionally ending in *", st)
		}
	}
	if len(h.Rooms) > maxPolicyEntries || len(h.AllowStreams) > maxPolicyEntries {
		return fmt.Errorf("gameauth_issuer: rooms and allow_streams take at most %d entries each", maxPolicyEntries)
	}
	if err := checkUserTemplate(h.User); err != nil {
		return err
	}
	for _, r := range h.Rooms {
		if r == "" {
			return fmt.Errorf("gameauth_issuer: empty entry in rooms")
		}
	}
	return nil
}

// ServeHTTP issues a token for the verified user.
func (h *IssuerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("method not allowed"))
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	user := h.user(repl)
	if user == "" {
		h.noUser.Do(func() {
			h.logger.Warn("a token request reached gameauth_issuer with no verified identity: is there a gameauth handler before it in the same route? "+
				"(logged once per config load; such requests are answered 401)", zap.String("issuer", h.name), zap.String("user", h.User))
		})
		w.Header().Set("WWW-Authenticate", "Bearer")
		repl.Set(ErrorPlaceholder, "no verified identity")
		h.metrics.issue(h.name, "unauthorized")
		return caddyhttp.Error(http.StatusUnauthorized, fmt.Errorf("gameauth_issuer: no verified identity on this request"))
	}

	// The gameauth handler before this one checked the ban list on this
	// request; check again, so that an issuer never mints for a banned
	// player whatever the route's order.
	var notAfter time.Time
	if s := slotOf(repl, false); s != nil && s.set {
		if err := h.bans.admit(&s.id); err != nil {
			return h.refuseListed(w, repl, err)
		}
		// A minor's token expires no later than the play window the
		// gameauth handler found them in.
		if m := s.by.minors(); m != nil && !s.until.IsZero() {
			if now := m.now(); s.until.Sub(now) < time.Second {
				return h.refuseListed(w, repl, m.refuseNear(now))
			}
			notAfter = s.until
		}
	}

	tr, err := h.readRequest(r)
	if err != nil {
		return h.badRequest(w, repl, err)
	}
	req := issuers.Request{UserID: user, StreamIDs: tr.StreamIDs, Publish: tr.Publish, NotAfter: notAfter}
	if h.policyPath && !plainPath(r) {
		// A rooms or allow_streams template reads the path, which Caddy's
		// matchers read cleaned: "/tok/private/..%2Fpublic-7" matches
		// /tok/public-* while {http.request.uri.path.1} reads "private".
		return h.badRequest(w, repl, denied(verifiers.ReasonAmbiguousPath))
	}
	if req.RoomID, err = h.room(repl, tr); err != nil {
		return h.badRequest(w, repl, err)
	}
	if err := h.privileges(repl, &req); err != nil {
		return h.badRequest(w, repl, err)
	}

	tok, err := h.issuer.IssueToken(r, req)
	if err != nil {
		if errors.Is(err, issuers.ErrBadRequest) {
			return h.badRequest(w, repl, err)
		}
		h.logger.Error("issuing token failed", zap.Error(err))
		h.metrics.issue(h.name, "error")
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("issuing token failed"))
	}

	ans := tokenAnswer{
		Token:     tok.Token,
		UserID:    tok.UserID,
		RoomID:    req.RoomID,
		ExpiresAt: tok.ExpiresAt.Unix(),
		ExpiresIn: int64(tok.ExpiresAt.Sub(tok.IssuedAt).Seconds()),
	}
	if h.fields.identity {
		ans.Identity = tok.UserID
	}
	buf := answerBuffers.Get().(*[]byte)
	body := ans.appendJSON((*buf)[:0])
	h.issuedOK.Inc()
	// Canonical names set directly, the three values in one array of
	// their own (a later handler may edit values in place).
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = "application/json", "no-store", "no-cache"
	hdr := w.Header()
	hdr["Content-Type"] = vals[0:1:1]
	hdr["Cache-Control"] = vals[1:2:2]
	hdr["Pragma"] = vals[2:3:3]
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	// Write does not keep body (io.Writer's contract), so the buffer goes
	// back to the pool unless an unusual answer made it large.
	if cap(body) <= 4<<10 {
		*buf = body
		answerBuffers.Put(buf)
	}
	return err
}

// answerBuffers holds the buffers token answers are built in.
var answerBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// tokenAnswer is the JSON answer.
type tokenAnswer struct {
	Token     string `json:"token"`
	UserID    string `json:"user_id"`
	Identity  string `json:"identity,omitempty"`
	RoomID    string `json:"room_id,omitempty"`
	ExpiresAt int64  `json:"expires_at"`
	ExpiresIn int64  `json:"expires_in"`
}

// appendJSON appends a as JSON, byte for byte what encoding/json writes for
// it (TestTokenAnswerJSON), without reflection.
func (a *tokenAnswer) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"token":`...)
	dst = jsonstr.Append(dst, a.Token)
	dst = append(dst, `,"user_id":`...)
	dst = jsonstr.Append(dst, a.UserID)
	if a.Identity != "" {
		dst = append(dst, `,"identity":`...)
		dst = jsonstr.Append(dst, a.Identity)
	}
	if a.RoomID != "" {
		dst = append(dst, `,"room_id":`...)
		dst = jsonstr.Append(dst, a.RoomID)
	}
	dst = append(dst, `,"expires_at":`...)
	dst = strconv.AppendInt(dst, a.ExpiresAt, 10)
	dst = append(dst, `,"expires_in":`...)
	dst = strconv.AppendInt(dst, a.ExpiresIn, 10)
	return append(dst, '}')
}

// Interface guards
var (
	_ caddy.Provisioner           = (*IssuerHandler)(nil)
	_ caddy.Validator             = (*IssuerHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*IssuerHandler)(nil)
	_ caddyfile.Unmarshaler       = (*IssuerHandler)(nil)
)

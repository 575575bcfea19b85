package caddyauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gameauth/caddy-gameauth/internal/jsonstr"
	"github.com/gameauth/caddy-gameauth/issuers"
)

func init() {
	caddy.RegisterModule(IssuerHandler{})
}

const issuerNamespace = "http.gameauth.issuers"

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

// maxIssuerRequestBody bounds the JSON or form body of a token request.
const maxIssuerRequestBody = 4 << 10

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
	noUser   sync.Once
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
	return nil
}

// setIssuer sets iss and everything derived from it and from User.
func (h *IssuerHandler) setIssuer(ctx caddy.Context, iss TokenIssuer) {
	h.issuer = iss
	h.name = iss.(caddy.Module).CaddyModule().ID.Name()
	h.fields = iss.requestFields()
	h.metrics = newHandlerMetrics(ctx)
	h.issuedOK = h.metrics.issued.WithLabelValues(h.name, "ok")
	h.userKey = soloPlaceholder(h.User)
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

// tokenRequest is the body of a token request.
type tokenRequest struct {
	RoomID    string   `json:"room_id"`
	Room      string   `json:"room"`
	StreamIDs []string `json:"stream_ids"`
	Publish   bool     `json:"publish"`
}

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

type requestProblem struct {
	msg       string
	forbidden bool // a privilege the route's policy does not grant: 403
}

func (p *requestProblem) Error() string { return p.msg }

func problem(format string, args ...any) error {
	return &requestProblem{msg: fmt.Sprintf(format, args...)}
}

// denied is a request for a privilege the route's policy does not grant.
func denied(msg string) error {
	return &requestProblem{msg: msg, forbidden: true}
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

	tr, err := h.readRequest(r)
	if err != nil {
		return h.badRequest(w, repl, err)
	}
	req := issuers.Request{UserID: user, StreamIDs: tr.StreamIDs, Publish: tr.Publish}
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

// room picks the room the token is bound to, under the Rooms restriction.
func (h *IssuerHandler) room(repl *caddy.Replacer, tr tokenRequest) (string, error) {
	room := tr.RoomID
	if len(h.Rooms) == 0 {
		return room, nil
	}
	if room == "" {
		if len(h.Rooms) == 1 {
			room = repl.ReplaceAll(h.Rooms[0], "")
			if room == "" {
				return "", problem("room_id: required")
			}
			return room, nil
		}
		return "", problem("room_id: required")
	}
	for _, t := range h.Rooms {
		if allowed := repl.ReplaceAll(t, ""); allowed != "" && allowed == room {
			return room, nil
		}
	}
	return "", denied("room_id: not a room this route issues tokens for")
}

// readRequest reads the optional request fields and refuses any other.
func (h *IssuerHandler) readRequest(r *http.Request) (tokenRequest, error) {
	var tr tokenRequest
	switch r.Method {
	case http.MethodGet:
		if err := h.fromValues(&tr, r.URL.RawQuery); err != nil {
			return tr, err
		}
	case http.MethodPost:
		if r.URL.RawQuery != "" {
			if err := h.fromValues(&tr, r.URL.RawQuery); err != nil {
				return tr, err
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxIssuerRequestBody))
		if err != nil {
			return tr, problem("request body too large or unreadable")
		}
		if len(strings.TrimSpace(string(body))) == 0 {
			break
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if trimmed := strings.TrimSpace(string(body)); strings.HasPrefix(trimmed, "{") {
			// A JSON object, whatever the client called it (curl -d says
			// form): a form body never starts with "{".
			ct = "application/json"
		}
		switch ct {
		case "application/json", "":
			if err := h.fromJSON(&tr, body); err != nil {
				return tr, err
			}
		case "application/x-www-form-urlencoded":
			if err := h.fromValues(&tr, string(body)); err != nil {
				return tr, err
			}
		default:
			return tr, problem("unsupported content type; use application/json")
		}
	}
	if tr.Room != "" {
		if tr.RoomID != "" && tr.RoomID != tr.Room {
			return tr, problem("room and room_id differ")
		}
		tr.RoomID = tr.Room
	}
	return tr, h.checkFields(tr)
}

func (h *IssuerHandler) checkFields(tr tokenRequest) error {
	if tr.RoomID != "" && !h.fields.room {
		return problem("room_id: this issuer takes no room")
	}
	if len(tr.StreamIDs) > 0 && !h.fields.streams {
		return problem("stream_ids: this issuer takes no streams")
	}
	if tr.Publish && !h.fields.publish {
		return problem("publish: this issuer takes no publish privilege")
	}
	if len(tr.StreamIDs) > 32 {
		return problem("stream_ids: at most 32")
	}
	return nil
}

// userFields are request fields that would name a user: never honoured.
func isUserField(k string) bool {
	switch strings.ToLower(k) {
	case "user", "user_id", "userid", "uid", "identity", "sub":
		return true
	}
	return false
}

func (h *IssuerHandler) fromJSON(tr *tokenRequest, body []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return problem("request body is not a JSON object")
	}
	for k, v := range raw {
		var err error
		switch k {
		case "room_id":
			err = json.Unmarshal(v, &tr.RoomID)
		case "room":
			err = json.Unmarshal(v, &tr.Room)
		case "stream_ids":
			err = json.Unmarshal(v, &tr.StreamIDs)
		case "publish":
			err = json.Unmarshal(v, &tr.Publish)
		default:
			if isUserField(k) {
				return problem("the token is issued for the verified identity; the request cannot name a user")
			}
			return unknownField(k)
		}
		if err != nil {
			return problem("%s: wrong type", k)
		}
	}
	return nil
}

func (h *IssuerHandler) fromValues(tr *tokenRequest, raw string) error {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return problem("malformed query or form")
	}
	for k, v := range vals {
		if len(v) != 1 && k != "stream_ids" {
			return problem("%s: given more than once", k)
		}
		switch k {
		case "room_id":
			tr.RoomID = v[0]
		case "room":
			tr.Room = v[0]
		case "stream_ids":
			for _, s := range v {
				for _, id := range strings.Split(s, ",") {
					if id != "" {
						tr.StreamIDs = append(tr.StreamIDs, id)
					}
				}
			}
		case "publish":
			switch v[0] {
			case "1", "true", "yes", "on":
				tr.Publish = true
			case "0", "false", "no", "off", "":
			default:
				return problem("publish: want true or false")
			}
		default:
			if isUserField(k) {
				return problem("the token is issued for the verified identity; the request cannot name a user")
			}
			return unknownField(k)
		}
	}
	return nil
}

// unknownField names the field when it is a plain identifier, so the
// message never echoes arbitrary client input.
func unknownField(k string) error {
	if len(k) <= 32 && validClaimName(k) {
		return problem("unknown request field %q (want room_id, stream_ids or publish)", k)
	}
	return problem("unknown request field (want room_id, stream_ids or publish)")
}

// badRequest answers 400 with a JSON error. The message names the field at
// fault and never echoes request values.
func (h *IssuerHandler) badRequest(w http.ResponseWriter, repl *caddy.Replacer, err error) error {
	msg := "bad request"
	status, code, outcome := http.StatusBadRequest, "invalid_request", "bad_request"
	var p *requestProblem
	var re *issuers.RequestError
	switch {
	case errors.As(err, &p):
		msg = p.msg
		if p.forbidden {
			status, code, outcome = http.StatusForbidden, "insufficient_scope", "forbidden"
		}
	case errors.As(err, &re):
		msg = re.Error()
	}
	repl.Set(ErrorPlaceholder, msg)
	h.metrics.issue(h.name, outcome)
	body, _ := json.Marshal(map[string]string{"error": code, "error_description": msg})
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, werr := w.Write(body)
	return werr
}

func parseGameauthIssuer(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(IssuerHandler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	gameauth_issuer [<matcher>] <zego|twilio|cloudbase> {
//		user  <template>
//		rooms <template>...
//		allow_publish
//		allow_streams <template>[*]...
//		<options of the issuer>
//	}
func (h *IssuerHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	var name string
	if !d.Args(&name) {
		return d.Err("gameauth_issuer needs an issuer name: zego, twilio or cloudbase")
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	mod, err := caddy.GetModule(issuerNamespace + "." + name)
	if err != nil {
		return d.Errf("unknown issuer %q", name)
	}
	guest, ok := mod.New().(issuerOptionParser)
	if !ok {
		return d.Errf("issuer %q cannot be configured from a Caddyfile", name)
	}
	p := newOptionParser(d)
	for d.NextBlock(0) {
		switch d.Val() {
		case "user":
			if err := p.str(&h.User); err != nil {
				return err
			}
		case "rooms":
			if err := p.list(&h.Rooms); err != nil {
				return err
			}
		case "allow_publish":
			if err := p.flag(&h.AllowPublish); err != nil {
				return err
			}
		case "allow_streams":
			if err := p.list(&h.AllowStreams); err != nil {
				return err
			}
		default:
			if err := guest.unmarshalOption(p, d.Val()); err != nil {
				return err
			}
		}
	}
	h.IssuerRaw = caddyconfig.JSONModuleObject(guest, "issuer", name, nil)
	return nil
}

// unmarshalIssuerBlock lets a guest issuer parse its own block too (for
// caddyfile.Unmarshaler), using the same option parser.
func unmarshalIssuerBlock(d *caddyfile.Dispenser, guest issuerOptionParser) error {
	return parseBlock(d, func(p *optionParser, name string) error {
		return guest.unmarshalOption(p, name)
	})
}

// Interface guards
var (
	_ caddy.Provisioner           = (*IssuerHandler)(nil)
	_ caddy.Validator             = (*IssuerHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*IssuerHandler)(nil)
	_ caddyfile.Unmarshaler       = (*IssuerHandler)(nil)
)

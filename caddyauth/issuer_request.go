package caddyauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/gameauth/caddy-gameauth/internal/check"
	"github.com/gameauth/caddy-gameauth/issuers"
	"github.com/gameauth/caddy-gameauth/verifiers"
)

// This file reads a token request: the optional fields room_id (aliases
// room and channel), stream_ids and publish, from a JSON or form POST body or from the
// query string, refusing any other field, and answers the requests it
// refuses with a JSON error.

// maxIssuerRequestBody bounds the JSON or form body of a token request.
const maxIssuerRequestBody = 4 << 10

// tokenRequest is the body of a token request.
type tokenRequest struct {
	RoomID    string   `json:"room_id"`
	Room      string   `json:"room"`
	Channel   string   `json:"channel"` // alias of room_id (Agora's word)
	StreamIDs []string `json:"stream_ids"`
	Publish   bool     `json:"publish"`
}

// requestProblem is a token request the issuer refuses: 400, or 403 for
// a privilege the route does not grant.
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
	if tr.Channel != "" {
		if tr.RoomID != "" && tr.RoomID != tr.Channel {
			return tr, problem("channel and room_id differ")
		}
		tr.RoomID = tr.Channel
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
		case "channel":
			err = json.Unmarshal(v, &tr.Channel)
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
		case "channel":
			tr.Channel = v[0]
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
	if len(k) <= 32 && check.ClaimName(k) {
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
	return h.answerError(w, repl, status, code, outcome, msg)
}

// answerError writes a refusal of a token request: the JSON error of RFC
// 6749 §5.2 with its code and description, which also goes in the
// {http.auth.gameauth.error} placeholder, counted under outcome.
func (h *IssuerHandler) answerError(w http.ResponseWriter, repl *caddy.Replacer, status int, code, outcome, msg string) error {
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

// refuseListed answers a token request of a player the ban list refuses:
// 403 banned (with Retry-After when the ban ends), 401 token revoked, or
// 503 when the list is unavailable, with a JSON error like badRequest's.
func (h *IssuerHandler) refuseListed(w http.ResponseWriter, repl *caddy.Replacer, err error) error {
	reason := verifiers.Reason(err)
	status := statusOf(err)
	code, outcome := "access_denied", "forbidden"
	switch status {
	case http.StatusUnauthorized:
		code, outcome = "invalid_token", "unauthorized"
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+reason+`"`)
	case http.StatusServiceUnavailable:
		code, outcome = "temporarily_unavailable", "error"
	}
	setRetryAfter(w, err)
	return h.answerError(w, repl, status, code, outcome, reason)
}

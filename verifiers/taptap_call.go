package verifiers

// This file holds the LeanCloud call of the TapTap verifier: the request,
// the classification of the answer and the reading of its body.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gameauth/caddy-gameauth/internal/check"
)

// tapAnswer is the outcome of one upstream call. cacheable is true for a
// valid user (kind tapPositive) and for code 211 (kind tapNegative).
type tapAnswer struct {
	id        Identity
	err       error
	kind      int
	cacheable bool
}

func tapFail(err error) tapAnswer { return tapAnswer{err: err} }

// call sends GET /1.1/users/me and classifies the answer.
func (v *TapTap) call(ctx context.Context, token string) tapAnswer {
	v.calls.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.endpoint, nil)
	if err != nil {
		return tapFail(Unavailable(ReasonUpstreamUnreachable, tapDefaultRetry))
	}
	req.Header = http.Header{
		"X-Lc-Id":      {v.clientID},
		"X-Lc-Key":     {v.key},
		"X-Lc-Session": {token},
		"Accept":       {"application/json"},
		"User-Agent":   {"caddy-gameauth"},
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return tapFail(v.transportError(ctx, err))
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
	}()

	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		body, err := v.readBody(ctx, resp)
		if err != nil {
			return tapFail(err)
		}
		id, err := parseTapTapUser(body)
		if err != nil {
			return tapFail(err)
		}
		return tapAnswer{id: id, kind: tapPositive, cacheable: true}
	case code == http.StatusBadRequest:
		body, err := v.readBody(ctx, resp)
		if err != nil {
			return tapFail(err)
		}
		if c, ok := parseTapTapErrorCode(body); ok && c == tapCodeSessionNotFound {
			return tapAnswer{err: Invalid(ReasonSessionNotFound), kind: tapNegative, cacheable: true}
		}
		return tapFail(Invalid(ReasonSessionNotFound))
	case code == http.StatusNotFound:
		return tapFail(Invalid(ReasonSessionNotFound))
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return tapFail(&Error{Kind: ErrBadGateway, Reason: ReasonUpstreamRejected})
	case code == http.StatusTooManyRequests:
		return tapFail(Unavailable(ReasonRateLimited, tapRetryAfter(resp.Header.Get("Retry-After"), v.now())))
	case code >= 500 && code <= 599:
		return tapFail(Unavailable(ReasonUpstreamError, tapRetryAfter(resp.Header.Get("Retry-After"), v.now())))
	default: // 1xx, other 2xx, 3xx (redirects are not followed), other 4xx
		return tapFail(Unavailable(ReasonUpstreamError, tapDefaultRetry))
	}
}

// readBody reads at most maxBody bytes of the response.
func (v *TapTap) readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	if resp.ContentLength > v.maxBody {
		return nil, Unavailable(ReasonUpstreamError, tapDefaultRetry)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, v.maxBody+1))
	if err != nil {
		return nil, v.transportError(ctx, err)
	}
	if int64(len(body)) > v.maxBody {
		return nil, Unavailable(ReasonUpstreamError, tapDefaultRetry)
	}
	return body, nil
}

// transportError classifies a failed round trip or body read.
func (v *TapTap) transportError(ctx context.Context, err error) error {
	if v.base.Err() != nil {
		return Unavailable(ReasonClosed, 0)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// Every waiter left; nobody will see this.
		return Unavailable(ReasonCancelled, 0)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return Unavailable(ReasonUpstreamTimeout, tapDefaultRetry)
	}
	return Unavailable(ReasonUpstreamUnreachable, tapDefaultRetry)
}

// parseTapTapUser turns the body of a 200 answer from /1.1/users/me into an
// Identity. Keys are matched exactly (not case-insensitively). objectId must
// be a JSON string of 1..128 printable ASCII bytes without spaces, else the
// answer is malformed. Other claims are taken only when they are strings (or,
// for shortId, integers) of at most 1024 bytes of UTF-8 without control
// characters; otherwise they are left out.
func parseTapTapUser(body []byte) (Identity, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return Identity{}, Unavailable(ReasonUpstreamError, tapDefaultRetry)
	}
	sub, ok := tapJSONString(top["objectId"])
	if !ok || len(sub) > tapMaxSubject || !check.PrintableASCII(sub) {
		return Identity{}, Unavailable(ReasonUpstreamError, tapDefaultRetry)
	}
	claims := make([]Claim, 0, 6)
	add := func(name string, raw json.RawMessage, numeric bool) {
		s, ok := tapJSONString(raw)
		if !ok && numeric && tapJSONInteger(raw) {
			s, ok = string(raw), true
		}
		if ok && s != "" && len(s) <= tapMaxClaimValue && check.CleanText(s) {
			claims = append(claims, Claim{Name: name, Value: s})
		}
	}
	add("username", top["username"], false)
	add("nickname", top["nickname"], false)
	add("avatar", top["avatar"], false)
	add("short_id", top["shortId"], true)
	if raw := top["authData"]; len(raw) > 0 && raw[0] == '{' {
		var ad map[string]json.RawMessage
		if json.Unmarshal(raw, &ad) == nil {
			if raw := ad["taptap"]; len(raw) > 0 && raw[0] == '{' {
				var tt map[string]json.RawMessage
				if json.Unmarshal(raw, &tt) == nil {
					add("openid", tt["openid"], false)
					add("unionid", tt["unionid"], false)
				}
			}
		}
	}
	id := Identity{Provider: "taptap", Subject: sub}
	if len(claims) > 0 {
		id.Claims = claims[:len(claims):len(claims)]
	}
	return id, nil
}

// parseTapTapErrorCode returns the integer "code" of a LeanCloud error body.
func parseTapTapErrorCode(body []byte) (int, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return 0, false
	}
	raw := top["code"]
	if !tapJSONInteger(raw) || len(raw) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(string(raw))
	return n, err == nil
}

// tapJSONString decodes raw if it is a JSON string.
func tapJSONString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// tapJSONInteger reports whether raw is a JSON integer literal.
func tapJSONInteger(raw json.RawMessage) bool {
	if len(raw) == 0 || len(raw) > 20 {
		return false
	}
	i := 0
	if raw[0] == '-' {
		i = 1
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

// tapRetryAfter reads a Retry-After header (seconds or HTTP date), clamped
// to [1s, 5m]; absent or unparsable means 1s.
func tapRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return tapDefaultRetry
	}
	var d time.Duration
	if n, err := strconv.ParseUint(h, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return tapDefaultRetry
	}
	return min(max(d, tapDefaultRetry), tapMaxRetry)
}

// tapNoRedirect makes the client return a 3xx as is instead of following it.
func tapNoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

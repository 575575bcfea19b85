package verifiers

// The refusal reasons. Every *Error a verifier returns carries one of them
// as its Reason, and the Caddy layer uses the same list for its own
// refusals, so one reason means one thing whichever vendor gave it. They
// are fixed strings that never hold attacker input: safe as metric labels,
// in challenges ("error_description") and in {http.auth.gameauth.error}
// for handle_errors. Reasons lists them all.
const (
	// Refused with ErrInvalidToken (401).

	// ReasonMissingToken: no token, or an empty one.
	ReasonMissingToken = "missing token"
	// ReasonTokenTooLong: longer than MaxTokenLength (TapTap: 256 bytes).
	ReasonTokenTooLong = "token too long"
	// ReasonMalformedToken: not in the vendor's format: segments, base64,
	// JSON, member types, duplicate or case-folded member names, invalid
	// UTF-8, nesting, ZEGO layout and version.
	ReasonMalformedToken = "malformed token"
	// ReasonBadAlgorithm: the JWT's alg is not the one the vendor signs
	// with (none, HS384, RS256 for an HMAC vendor, ...).
	ReasonBadAlgorithm = "bad algorithm"
	// ReasonBadHeader: the JWT header has crit, or a typ, cty or region
	// the vendor does not write.
	ReasonBadHeader = "bad header"
	// ReasonUnknownKey: the token names a key that is not configured
	// (Twilio API key SID, CloudBase key id).
	ReasonUnknownKey = "unknown key"
	// ReasonBadSignature: not signed (ZEGO: not encrypted) with a
	// configured key.
	ReasonBadSignature = "bad signature"
	// ReasonMissingExp: the token has no expiry.
	ReasonMissingExp = "missing exp"
	// ReasonBadTimeClaim: a time claim (exp, nbf, iat; ZEGO ctime and
	// expire) is not a time: wrong type, out of range, in seconds where
	// milliseconds are due, or inconsistent with another.
	ReasonBadTimeClaim = "bad time claim"
	// ReasonTokenExpired: past its expiry (and the leeway).
	ReasonTokenExpired = "token expired"
	// ReasonNotYetValid: before its nbf or its iat (and the leeway).
	ReasonNotYetValid = "token not yet valid"
	// ReasonWrongIssuer: issued by another endpoint than the configured
	// one (Seayoo iss).
	ReasonWrongIssuer = "wrong issuer"
	// ReasonWrongAudience: issued for another game, app, account or
	// environment (Seayoo aud, ZEGO app id, Twilio account SID, CloudBase
	// env id).
	ReasonWrongAudience = "wrong audience"
	// ReasonWrongScope: issued for another use than a login (a Seayoo
	// token whose scope is not "auth", such as an ad token).
	ReasonWrongScope = "wrong scope"
	// ReasonMissingSubject: the token names no user.
	ReasonMissingSubject = "missing subject"
	// ReasonBadClaim: a claim the identity relies on (user id, room,
	// stream) cannot be used: control characters, too long, a value the
	// vendor never writes.
	ReasonBadClaim = "bad claim"
	// ReasonSessionNotFound: LeanCloud does not know the TapTap session.
	ReasonSessionNotFound = "session not found"
	// ReasonTokenRevoked: the token was issued before a revocation of its
	// player ("log out everywhere"); a token issued after it passes.
	ReasonTokenRevoked = "token revoked"

	// Refused with ErrForbidden (403).

	// ReasonWrongRoom: the token is not for the room the request names.
	ReasonWrongRoom = "wrong room"
	// ReasonPublishNotAllowed: the token lacks the publish privilege.
	ReasonPublishNotAllowed = "publish not allowed"
	// ReasonStreamNotAllowed: the token may not publish that stream.
	ReasonStreamNotAllowed = "stream not allowed"
	// ReasonNoRoomInRequest: the route requires a room the request does
	// not name.
	ReasonNoRoomInRequest = "no room in request"
	// ReasonNoStreamInRequest: the route requires a stream the request
	// does not name.
	ReasonNoStreamInRequest = "no stream in request"
	// ReasonAmbiguousPath: a requirement reads the path, and the path is
	// not plain (encoded slashes, dot segments, ...).
	ReasonAmbiguousPath = "ambiguous request path"
	// ReasonClaimRuleFailed: a require rule of the route failed.
	ReasonClaimRuleFailed = "claim rule failed"
	// ReasonBanned: the player is banned (Retry-After says when the ban
	// ends, if it does).
	ReasonBanned = "banned"
	// ReasonMinorPlayTime: a minor outside the play window the route's
	// minors rule allows (Retry-After says when the next one opens, if one
	// is known); also what ends a minor's live connections at the window's
	// end.
	ReasonMinorPlayTime = "minor play time"
	// ReasonAgeUnknown: the token gives no age (or 0) and the route's
	// minors rule refuses players of unknown age.
	ReasonAgeUnknown = "age unknown"

	// Refused with ErrUnavailable (503) or ErrBadGateway (502).

	// ReasonTooManyCalls: MaxInFlight LeanCloud calls are already running.
	ReasonTooManyCalls = "too many upstream calls"
	// ReasonRateLimited: LeanCloud answered 429.
	ReasonRateLimited = "rate limited"
	// ReasonUpstreamTimeout: LeanCloud did not answer in time.
	ReasonUpstreamTimeout = "leancloud timeout"
	// ReasonUpstreamUnreachable: LeanCloud could not be reached.
	ReasonUpstreamUnreachable = "leancloud unreachable"
	// ReasonUpstreamError: LeanCloud answered 5xx, an unexpected status, or
	// an answer too large or malformed.
	ReasonUpstreamError = "leancloud error"
	// ReasonUpstreamRejected: LeanCloud refused our own credentials (502).
	ReasonUpstreamRejected = "leancloud rejected credentials"
	// ReasonCancelled: the request ended before LeanCloud answered.
	ReasonCancelled = "request cancelled"
	// ReasonClosed: the verifier was retired by a config reload.
	ReasonClosed = "verifier closed"
	// ReasonBanListUnavailable: the ban list was never read from storage
	// since Caddy started, or is older than the configured bound.
	ReasonBanListUnavailable = "ban list unavailable"
	// ReasonTooManyLiveSessions: the bound of live connections (WebSockets,
	// other upgrades, event streams) tracked by the process, or the
	// player's share of it, is reached.
	ReasonTooManyLiveSessions = "too many live sessions"

	// ReasonInternal is what Reason says of an error that is not one of
	// this package's.
	ReasonInternal = "internal error"
)

// reasons is the list Reasons returns, in the order above.
var reasons = [...]string{
	ReasonMissingToken, ReasonTokenTooLong, ReasonMalformedToken, ReasonBadAlgorithm,
	ReasonBadHeader, ReasonUnknownKey, ReasonBadSignature, ReasonMissingExp,
	ReasonBadTimeClaim, ReasonTokenExpired, ReasonNotYetValid, ReasonWrongIssuer,
	ReasonWrongAudience, ReasonWrongScope, ReasonMissingSubject, ReasonBadClaim, ReasonSessionNotFound,
	ReasonTokenRevoked,
	ReasonWrongRoom, ReasonPublishNotAllowed, ReasonStreamNotAllowed, ReasonNoRoomInRequest,
	ReasonNoStreamInRequest, ReasonAmbiguousPath, ReasonClaimRuleFailed, ReasonBanned,
	ReasonMinorPlayTime, ReasonAgeUnknown,
	ReasonTooManyCalls, ReasonRateLimited, ReasonUpstreamTimeout, ReasonUpstreamUnreachable,
	ReasonUpstreamError, ReasonUpstreamRejected, ReasonCancelled, ReasonClosed,
	ReasonBanListUnavailable, ReasonTooManyLiveSessions, ReasonInternal,
}

// Reasons returns every refusal reason, in a fixed order: the possible
// values of Reason.
func Reasons() []string { return append([]string(nil), reasons[:]...) }

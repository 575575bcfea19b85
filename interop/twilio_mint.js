'use strict';
// Mints Twilio Access Tokens with the npm `twilio` library (AccessToken +
// VideoGrant), for the Go interop tests of verifiers/twilio.go.
//
// stdin:  a JSON array of requests (or a single request object):
//   { "accountSid": "AC…", "keySid": "SK…", "secret": "…",
//     "identity": "alice" | 42,      required (numbers are stringified by twilio)
//     "room": "name",                optional: VideoGrant({room})
//     "video": false,                optional: omit the VideoGrant entirely (default true)
//     "region": "ie1",               optional: header "twr"
//     "ttl": 3600,                   optional seconds (twilio default 3600)
//     "nbf": 1795458000,             optional, unix seconds
//     "algorithm": "HS512",          optional: HS256 (default), HS384, HS512
//     "now": 1795457949 }            optional: pins the signing time (iat, jti, exp)
// stdout: a JSON array, one { "token": "…" } or { "error": "…" } per request
//         (a single object when the input was a single object).
//
// Pinning "now" makes the output deterministic: HMAC signatures have no
// randomness, so the same request always yields the same token bytes.

const twilio = require('twilio');

const AccessToken = twilio.jwt.AccessToken;
const VideoGrant = AccessToken.VideoGrant;

function mint(req) {
  const options = { identity: req.identity };
  if (req.ttl !== undefined) options.ttl = req.ttl;
  if (req.nbf !== undefined) options.nbf = req.nbf;
  if (req.region !== undefined) options.region = req.region;
  const token = new AccessToken(req.accountSid, req.keySid, req.secret, options);
  if (req.video !== false) {
    token.addGrant(req.room !== undefined ? new VideoGrant({ room: req.room }) : new VideoGrant());
  }
  const realNow = Date.now;
  if (typeof req.now === 'number') {
    Date.now = () => req.now * 1000;
  }
  try {
    return { token: token.toJwt(req.algorithm) };
  } finally {
    Date.now = realNow;
  }
}

function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const reqs = Array.isArray(input) ? input : [input];
  const out = reqs.map((req) => {
    try {
      return mint(req);
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(Array.isArray(input) ? out : out[0]) + '\n');
}

main();

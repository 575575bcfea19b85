'use strict';
// Seayoo-shaped identity tokens with npm `jsonwebtoken`, the library the
// official combo-sdk-node verifies them with, for the Go interop tests of
// verifiers/seayoo.go (tokens minted here must verify there) and
// issuers/seayoo.go (tokens minted there must pass the checks below).
//
// stdin:  { "requests": [ request, ... ] }, each request one of:
//   { "op": "sign", "secret": "sk_…", "payload": { … }, "options": { … } }
//       jsonwebtoken.sign(payload, secret, options). A payload string value
//       "LONE_SURROGATE" is replaced by the lone surrogate "\ud800" (which
//       Go's encoding/json cannot carry).
//   { "op": "verify", "secret": "sk_…", "token": "…", "game_id": "…",
//     "issuer": "https://api.seayoo.com", "now": 1772366400 }
//       what combo-sdk-node's verifyIdentityToken does: jsonwebtoken.verify
//       with HS256 only, audience and issuer (it does not require exp), then
//       sub, iss, scope, idp, external_id and external_name must be present
//       and scope must be "auth". "now" pins the clock (unix seconds).
// stdout: { "results": [ { "token": "…" } | { "ok": true, "payload": { … } }
//                        | { "ok": false, "error": "…" } | { "error": "…" } ] }

const jwt = require('jsonwebtoken');

function sign(req) {
  const payload = Object.assign({}, req.payload);
  for (const k of Object.keys(payload)) {
    if (payload[k] === 'LONE_SURROGATE') payload[k] = '\ud800';
  }
  try {
    return { token: jwt.sign(payload, req.secret, req.options || {}) };
  } catch (e) {
    return { error: String(e && e.message) };
  }
}

const REQUIRED = ['sub', 'iss', 'scope', 'idp', 'external_id', 'external_name'];

function verify(req) {
  let payload;
  try {
    payload = jwt.verify(req.token, req.secret, {
      algorithms: ['HS256'],
      audience: req.game_id,
      issuer: req.issuer,
      clockTimestamp: req.now,
    });
  } catch (e) {
    return { ok: false, error: e.name + ': ' + e.message };
  }
  for (const k of REQUIRED) {
    if (payload[k] === undefined) return { ok: false, error: 'missing ' + k };
  }
  if (payload.scope !== 'auth') return { ok: false, error: 'invalid scope' };
  return { ok: true, payload };
}

function main(input) {
  const { requests } = JSON.parse(input);
  const results = requests.map((req) => {
    switch (req.op) {
      case 'sign':
        return sign(req);
      case 'verify':
        return verify(req);
      default:
        return { error: 'unknown op' };
    }
  });
  process.stdout.write(JSON.stringify({ results }));
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => main(input));

'use strict';
// Checks a Twilio Access Token issued by issuers/twilio.go against Twilio's
// rules, with `jsonwebtoken.verify` (the library npm `twilio` signs with),
// and mints the token the npm `twilio` library would produce for the same
// inputs at the same second, so the Go test can compare both.
//
// stdin: { "token": "…", "accountSid": "AC…", "keySid": "SK…", "secret": "…",
//          "identity": "alice", "room": "name" (optional), "region": "ie1" (optional),
//          "ttl": 3600 (seconds), "now": 1795457949 (the verification time) }
// stdout: { "ok": bool, "errors": [ "…" ],
//           "header": {…}, "payload": {…}, "headerJSON": "…", "payloadJSON": "…",
//           "twilio": { "token": "…", "header": {…}, "payload": {…},
//                       "headerJSON": "…", "payloadJSON": "…" } | { "error": "…" },
//           "identical": bool }   // our token === twilio's token, byte for byte
//
// Rules (Twilio docs, error pages 20101/20104/20157, and the npm library):
// HS256; header typ "JWT", cty "twilio-fpa;v=1", twr = region when given and
// nothing else; iss = API key SID; sub = account SID; jti = iss + "-" + iat;
// integer iat and exp, 0 < exp - iat <= 86400; grants.identity = identity;
// grants.video an object whose room is the requested room (absent if none).

const jwt = require('jsonwebtoken');
const twilio = require('twilio');

const AccessToken = twilio.jwt.AccessToken;
const VideoGrant = AccessToken.VideoGrant;

function decodePart(part) {
  const json = Buffer.from(part, 'base64url').toString('utf8');
  return { json, value: JSON.parse(json) };
}

function sameKeys(obj, allowed) {
  return Object.keys(obj).every((k) => allowed.includes(k));
}

function check(input) {
  const errors = [];
  const out = { ok: false, errors };
  try {
    jwt.verify(input.token, input.secret, {
      algorithms: ['HS256'],
      issuer: input.keySid,
      subject: input.accountSid,
      clockTimestamp: input.now,
    });
  } catch (e) {
    errors.push('jsonwebtoken.verify: ' + e.message);
  }
  const parts = String(input.token).split('.');
  if (parts.length !== 3) {
    errors.push('not a compact JWS');
    return out;
  }
  let header;
  let payload;
  try {
    const h = decodePart(parts[0]);
    const p = decodePart(parts[1]);
    header = h.value;
    payload = p.value;
    out.header = header;
    out.payload = payload;
    out.headerJSON = h.json;
    out.payloadJSON = p.json;
  } catch (e) {
    errors.push('cannot decode: ' + e.message);
    return out;
  }

  if (header.alg !== 'HS256') errors.push('header alg is not HS256');
  if (header.typ !== 'JWT') errors.push('header typ is not JWT');
  if (header.cty !== 'twilio-fpa;v=1') errors.push('header cty is not twilio-fpa;v=1');
  if (input.region !== undefined) {
    if (header.twr !== input.region) errors.push('header twr is not the region');
  } else if ('twr' in header) {
    errors.push('header twr present without a region');
  }
  if (!sameKeys(header, ['alg', 'typ', 'cty', 'twr'])) errors.push('unexpected header member');

  if (payload.iss !== input.keySid) errors.push('iss is not the API key SID');
  if (payload.sub !== input.accountSid) errors.push('sub is not the account SID');
  if (!Number.isInteger(payload.iat)) errors.push('iat is not an integer');
  if (!Number.isInteger(payload.exp)) errors.push('exp is not an integer');
  if (payload.jti !== payload.iss + '-' + payload.iat) errors.push('jti is not iss-iat');
  const lifetime = payload.exp - payload.iat;
  if (!(lifetime > 0 && lifetime <= 86400)) errors.push('exp - iat is not in (0, 86400]');
  if (input.ttl !== undefined && lifetime !== input.ttl) errors.push('exp - iat is not the ttl');
  if (Math.abs(payload.iat - input.now) > 5) errors.push('iat is not the issue time');
  if ('nbf' in payload && payload.nbf > payload.iat) errors.push('nbf after iat');
  if (!sameKeys(payload, ['jti', 'grants', 'nbf', 'iat', 'exp', 'iss', 'sub'])) {
    errors.push('unexpected payload member');
  }

  const grants = payload.grants;
  if (typeof grants !== 'object' || grants === null || Array.isArray(grants)) {
    errors.push('grants is not an object');
  } else {
    if (typeof grants.identity !== 'string' || grants.identity === '') {
      errors.push('grants.identity is not a non-empty string');
    } else if (grants.identity !== String(input.identity)) {
      errors.push('grants.identity is not the identity');
    }
    const video = grants.video;
    if (typeof video !== 'object' || video === null || Array.isArray(video)) {
      errors.push('grants.video is not an object');
    } else if (input.room !== undefined && input.room !== '') {
      if (video.room !== input.room) errors.push('grants.video.room is not the room');
    } else if ('room' in video) {
      errors.push('grants.video.room present without a room');
    }
    if (!sameKeys(grants, ['identity', 'video'])) errors.push('unexpected grant');
  }

  // What the twilio library mints for the same inputs at the same second.
  try {
    const options = { identity: input.identity };
    if (input.ttl !== undefined) options.ttl = input.ttl;
    if (input.region !== undefined) options.region = input.region;
    const at = new AccessToken(input.accountSid, input.keySid, input.secret, options);
    at.addGrant(input.room ? new VideoGrant({ room: input.room }) : new VideoGrant());
    const realNow = Date.now;
    Date.now = () => payload.iat * 1000;
    let token;
    try {
      token = at.toJwt();
    } finally {
      Date.now = realNow;
    }
    const tp = token.split('.');
    const h = decodePart(tp[0]);
    const p = decodePart(tp[1]);
    out.twilio = {
      token,
      header: h.value,
      payload: p.value,
      headerJSON: h.json,
      payloadJSON: p.json,
    };
    out.identical = token === input.token;
  } catch (e) {
    out.twilio = { error: String(e && e.message ? e.message : e) };
    out.identical = false;
  }

  out.ok = errors.length === 0;
  return out;
}

function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  process.stdout.write(JSON.stringify(check(input)) + '\n');
}

main();

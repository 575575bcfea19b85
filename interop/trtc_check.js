'use strict';
// trtc_check.js: checks tokens our TRTC issuer made with Tencent's own npm
// tls-sig-api-v2: decodes them as the library's base64url.unescape and
// zlib do, recomputes TLS.sig with the library's own Api._hmacsha256, and
// makes the token the library's builder makes for the same inputs at the
// same second (Date.now fixed to TLS.time) to compare the two JSON
// documents member for member.
//
// stdin:  a JSON array of {"token": "...", "sdkappid": n, "key": "...",
//          "userid": "...", "expire": n, "kind": "usersig"|"map"|"strmap",
//          "room": n|"...", "privilege": n}
// stdout: a JSON array of {"ok": bool, "errors": [...], "doc": {...},
//          "vendorDoc": {...}, "keys": [...], "vendorKeys": [...],
//          "identical": bool (the two JSON texts are equal)}

const zlib = require('zlib');
const TLSSigAPIv2 = require('tls-sig-api-v2');

// The library's base64url.unescape (not exported), with its padding quirk.
function unescape(str) {
  return (str + Array(5 - str.length % 4)).replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+');
}

function decode(token) {
  return JSON.parse(zlib.inflateSync(Buffer.from(unescape(token), 'base64')).toString());
}

function check(it) {
  const errors = [];
  let doc;
  try {
    doc = decode(it.token);
  } catch (e) {
    return { ok: false, errors: ['cannot decode: ' + e.message] };
  }
  const api = new TLSSigAPIv2.Api(it.sdkappid, it.key);
  const userbuf = Object.prototype.hasOwnProperty.call(doc, 'TLS.userbuf') ? doc['TLS.userbuf'] : null;
  const sig = api._hmacsha256(doc['TLS.identifier'], doc['TLS.time'], doc['TLS.expire'], userbuf);
  if (sig !== doc['TLS.sig']) errors.push('TLS.sig does not match the HMAC tls-sig-api-v2 computes');
  if (doc['TLS.identifier'] !== it.userid) errors.push('identifier');
  if (doc['TLS.sdkappid'] !== it.sdkappid) errors.push('sdkappid');
  if (doc['TLS.expire'] !== it.expire) errors.push('expire');

  const realNow = Date.now;
  Date.now = () => doc['TLS.time'] * 1000;
  let vendor;
  try {
    switch (it.kind) {
      case 'usersig': vendor = api.genUserSig(it.userid, it.expire); break;
      case 'map': vendor = api.genPrivateMapKey(it.userid, it.expire, it.room, it.privilege); break;
      case 'strmap': vendor = api.genPrivateMapKeyWithStringRoomID(it.userid, it.expire, it.room, it.privilege); break;
      default: errors.push('unknown kind');
    }
  } finally {
    Date.now = realNow;
  }
  const vendorDoc = vendor ? decode(vendor) : null;
  const ours = JSON.stringify(doc);
  const theirs = JSON.stringify(vendorDoc);
  return {
    ok: errors.length === 0,
    errors,
    doc,
    vendorDoc,
    keys: Object.keys(doc),
    vendorKeys: vendorDoc ? Object.keys(vendorDoc) : [],
    identical: ours === theirs,
  };
}

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(input.map(check)));

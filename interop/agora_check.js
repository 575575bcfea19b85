'use strict';
// Checks an Agora AccessToken2 issued by issuers/agora.go with npm
// agora-token's own reader (AccessToken2.from_string + verifySignature),
// decodes its services and privileges, and rebuilds it with agora-token's
// RtcTokenBuilder for the same inputs, issue time and salt, so that the Go
// test can require the same content, byte for byte (the zlib framing may
// differ: the inflated contents are compared).
//
// stdin: { "token": "007…", "appId": "…", "appCertificate": "…",
//          "channel": "…", "account": "…", "uid": 123 (instead of account),
//          "publisher": bool, "tokenExpire": 3600, "privilegeExpire": 3600 }
// stdout: { "parsed": bool, "verified": bool, "appId": "…", "issueTs": n, "expire": n, "salt": n,
//           "services": [ { "type": 1, "channel": "…", "uid": "…", "privileges": { "1": n, … } } ],
//           "content": "hex of ours, inflated", "vendorContent": "hex of agora-token's, inflated",
//           "vendorToken": "007…" }

const zlib = require('zlib');
const { AccessToken2 } = require('agora-token/src/AccessToken2');
const { RtcTokenBuilder, RtcRole } = require('agora-token');

function inflate(token) {
  return zlib.inflateSync(Buffer.from(token.substring(3), 'base64')).toString('hex');
}

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  const out = {};
  const t = new AccessToken2();
  out.parsed = t.from_string(req.token);
  out.verified = out.parsed && t.verifySignature(req.appCertificate);
  out.appId = t.appId.toString();
  out.issueTs = t.issueTs;
  out.expire = t.expire;
  out.salt = t.salt;
  out.services = t.services.map((s) => ({
    type: s.service_type(),
    channel: s.__channel_name !== undefined ? s.__channel_name.toString() : undefined,
    uid: s.__uid !== undefined ? s.__uid.toString() : undefined,
    privileges: s.__privileges,
  }));
  out.content = inflate(req.token);

  // The vendor's builder at the same second and with the same salt.
  const realNow = Date.now;
  const realGetTime = Date.prototype.getTime;
  const realRandom = Math.random;
  Date.prototype.getTime = () => t.issueTs * 1000;
  Date.now = () => t.issueTs * 1000;
  Math.random = () => (t.salt - 1 + 0.5) / 99999999;
  try {
    const role = req.publisher ? RtcRole.PUBLISHER : RtcRole.SUBSCRIBER;
    out.vendorToken = req.uid !== undefined
      ? RtcTokenBuilder.buildTokenWithUid(req.appId, req.appCertificate, req.channel, req.uid, role, req.tokenExpire, req.privilegeExpire)
      : RtcTokenBuilder.buildTokenWithUserAccount(req.appId, req.appCertificate, req.channel, req.account, role, req.tokenExpire, req.privilegeExpire);
  } finally {
    Date.prototype.getTime = realGetTime;
    Date.now = realNow;
    Math.random = realRandom;
  }
  out.vendorContent = inflate(out.vendorToken);
  process.stdout.write(JSON.stringify(out));
});

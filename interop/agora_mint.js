'use strict';
// Mints Agora AccessToken2 RTC tokens with npm agora-token's own builders
// (RtcTokenBuilder.buildTokenWithUid and buildTokenWithUserAccount), for the
// Go tests that verify them (verifiers, and through a real Caddy).
//
// stdin: { "appId": "…32 hex…", "appCertificate": "…32 hex…",
//          "tokens": [ { "name": "…", "uid": 123 | "account": "…", "channel": "…",
//                        "publisher": bool, "tokenExpire": 600, "privilegeExpire": 0 } ] }
// stdout: { "tokens": { "<name>": "007…" } }

const { RtcTokenBuilder, RtcRole } = require('agora-token');

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  const tokens = {};
  for (const t of req.tokens) {
    const role = t.publisher ? RtcRole.PUBLISHER : RtcRole.SUBSCRIBER;
    const build = t.uid !== undefined ? 'buildTokenWithUid' : 'buildTokenWithUserAccount';
    const who = t.uid !== undefined ? t.uid : t.account;
    tokens[t.name] = RtcTokenBuilder[build](req.appId, req.appCertificate, t.channel, who, role,
      t.tokenExpire, t.privilegeExpire || 0);
  }
  process.stdout.write(JSON.stringify({ tokens }));
});

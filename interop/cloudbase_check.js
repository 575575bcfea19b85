'use strict';
// Checks CloudBase custom-login tickets with jsonwebtoken (the library the
// SDK signs with) against the public key, and prints each ticket's decoded
// header and payload, with their member order, for the Go test to compare
// against an SDK-made ticket.
//
// stdin:  {"public_key": "<PEM>", "now_ms": <Unix ms>, "tickets": ["<kid>/@@/<jwt>", ...]}
// stdout: {"results": [{"ok": true, "key_id", "header", "header_keys",
//                       "payload", "payload_keys"} | {"ok": false, "error"}, ...]}
//
// jsonwebtoken reads exp as seconds, so a millisecond exp never expires
// for it: the Go side checks the times. Used by
// issuers/cloudbase_interop_test.go.

const fs = require('fs');
const jwt = require('jsonwebtoken');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const clockTimestamp = Math.floor(input.now_ms / 1000);
const SEP = '/@@/';

const results = input.tickets.map((ticket) => {
  const at = ticket.indexOf(SEP);
  if (at < 0) {
    return { ok: false, error: 'no separator' };
  }
  try {
    const t = jwt.verify(ticket.slice(at + SEP.length), input.public_key, {
      algorithms: ['RS256'],
      clockTimestamp,
      complete: true,
    });
    return {
      ok: true,
      key_id: ticket.slice(0, at),
      header: t.header,
      header_keys: Object.keys(t.header),
      payload: t.payload,
      payload_keys: Object.keys(t.payload),
    };
  } catch (e) {
    return { ok: false, error: e.name + ': ' + e.message };
  }
});
process.stdout.write(JSON.stringify({ results }) + '\n');

'use strict';
// Mints CloudBase custom-login tickets with the vendor's own SDK
// (@cloudbase/node-sdk auth().createTicket), at a clock the caller fixes.
//
// stdin:  {"now_ms": <Unix ms>, "env": "<env id given to init>",
//          "credentials": {"private_key_id", "private_key", "env_id"},
//          "requests": [{"uid": <any>, "options": {...}}, ...]}
// stdout: {"results": [{"ticket": "..."} | {"error": {"code", "message"}}, ...]}
//
// Ticket times come from `new Date().getTime()` (and jsonwebtoken reads
// Date.now()), so Date is replaced before the SDK is loaded: a Date built
// without arguments, and Date.now(), give now_ms.
// Used by the Go tests in issuers/cloudbase_interop_test.go and
// verifiers/cloudbase_test.go. Test data only: never run with real keys.

const fs = require('fs');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
if (!Number.isSafeInteger(input.now_ms)) {
  throw new Error('now_ms must be an integer');
}
const NOW = input.now_ms;
const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) {
      super(NOW);
    } else {
      super(...args);
    }
  }
  static now() {
    return NOW;
  }
}
global.Date = FixedDate;

const cloudbase = require('@cloudbase/node-sdk');

const app = cloudbase.init({ env: input.env, credentials: input.credentials });
const auth = app.auth();
const results = input.requests.map((r) => {
  try {
    return { ticket: auth.createTicket(r.uid, r.options || {}) };
  } catch (e) {
    return { error: { code: String(e.code || e.name || ''), message: String(e.message) } };
  }
});
process.stdout.write(JSON.stringify({ results }) + '\n');

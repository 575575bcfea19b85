'use strict';
// trtc_mint.js: tokens made by Tencent's own npm tls-sig-api-v2 (genUserSig,
// genPrivateMapKey, genPrivateMapKeyWithStringRoomID), for the Go tests that
// verify them.
//
// stdin:  a JSON array of {"sdkappid": n, "key": "<SDKSecretKey>",
//          "kind": "usersig"|"map"|"strmap", "userid": "...", "expire": n,
//          "room": n|"...", "privilege": n, "now": <unix seconds, optional>}
//         ("now" fixes Date.now while the token is made: an old token).
// stdout: a JSON array of {"token": "..."}, in order.

const TLSSigAPIv2 = require('tls-sig-api-v2');

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const realNow = Date.now;
const out = input.map((it) => {
  if (typeof it.now === 'number') Date.now = () => it.now * 1000;
  try {
    const api = new TLSSigAPIv2.Api(it.sdkappid, it.key);
    switch (it.kind) {
      case 'usersig':
        return { token: api.genUserSig(it.userid, it.expire) };
      case 'map':
        return { token: api.genPrivateMapKey(it.userid, it.expire, it.room, it.privilege) };
      case 'strmap':
        return { token: api.genPrivateMapKeyWithStringRoomID(it.userid, it.expire, it.room, it.privilege) };
    }
    return { error: 'unknown kind' };
  } finally {
    Date.now = realNow;
  }
});
process.stdout.write(JSON.stringify(out));

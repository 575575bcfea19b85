'use strict';
// zego_decode.js: an independent ZEGOCLOUD Token04 decoder, written from the
// format in spec/tokens.md §1 with nothing but Node's crypto module, so the Go
// tests can check the tokens our issuer makes against a second implementation.
//
// stdin:  a JSON array of {"token": "04...", "secret": "<32 chars>"}
// stdout: a JSON array, one entry per input, in order:
//   {"ok": true, "mode": "gcm"|"cbc",
//    "layout": {"expire_prefix": "<int64 as decimal string>", "iv_length": n,
//               "iv_hex": "...", "ciphertext_length": n,
//               "trailing_mode_byte": 1|null},
//    "plaintext": "<decrypted JSON text>"}
//   or {"ok": false, "error": "<fixed reason>"}
// Exit status 0 unless the input itself cannot be read.

const crypto = require('crypto');

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decode(token, secret) {
  if (typeof token !== 'string' || typeof secret !== 'string') {
    return { ok: false, error: 'bad input' };
  }
  const key = Buffer.from(secret, 'utf8');
  if (key.length !== 32) return { ok: false, error: 'secret must be 32 bytes' };
  if (!token.startsWith('04')) return { ok: false, error: 'not a 04 token' };
  const body = token.slice(2);
  if (body.length === 0 || !B64.test(body)) return { ok: false, error: 'bad base64' };
  const blob = Buffer.from(body, 'base64');
  // Buffer.from is lenient: insist on the canonical encoding.
  if (blob.toString('base64') !== body) return { ok: false, error: 'non-canonical base64' };

  let off = 0;
  const need = (n) => blob.length - off >= n;
  if (!need(8)) return { ok: false, error: 'truncated expire' };
  const expire = blob.readBigInt64BE(off);
  off += 8;
  if (!need(2)) return { ok: false, error: 'truncated iv length' };
  const ivLen = blob.readUInt16BE(off);
  off += 2;
  if (!need(ivLen)) return { ok: false, error: 'truncated iv' };
  const iv = blob.subarray(off, off + ivLen);
  off += ivLen;
  if (!need(2)) return { ok: false, error: 'truncated ciphertext length' };
  const ctLen = blob.readUInt16BE(off);
  off += 2;
  if (!need(ctLen)) return { ok: false, error: 'truncated ciphertext' };
  const ct = blob.subarray(off, off + ctLen);
  off += ctLen;
  const rest = blob.length - off;

  let mode;
  let trailing = null;
  if (rest === 0) {
    mode = 'cbc';
  } else if (rest === 1 && blob[off] === 1) {
    mode = 'gcm';
    trailing = 1;
  } else {
    return { ok: false, error: 'bad trailer' };
  }

  let plain;
  try {
    if (mode === 'gcm') {
      if (ivLen !== 12) return { ok: false, error: 'gcm nonce must be 12 bytes' };
      if (ctLen < 16) return { ok: false, error: 'gcm ciphertext shorter than its tag' };
      const d = crypto.createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(ct.subarray(ctLen - 16));
      plain = Buffer.concat([d.update(ct.subarray(0, ctLen - 16)), d.final()]);
    } else {
      if (ivLen !== 16) return { ok: false, error: 'cbc iv must be 16 bytes' };
      if (ctLen === 0 || ctLen % 16 !== 0) return { ok: false, error: 'cbc ciphertext length' };
      const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
      d.setAutoPadding(true); // OpenSSL checks every PKCS#7 padding byte
      plain = Buffer.concat([d.update(ct), d.final()]);
    }
  } catch (e) {
    return { ok: false, error: mode === 'gcm' ? 'gcm authentication failed' : 'cbc padding invalid' };
  }

  const text = new TextDecoder('utf-8', { fatal: true });
  let plaintext;
  try {
    plaintext = text.decode(plain);
  } catch (e) {
    return { ok: false, error: 'plaintext is not utf-8' };
  }
  return {
    ok: true,
    mode,
    layout: {
      expire_prefix: expire.toString(),
      iv_length: ivLen,
      iv_hex: iv.toString('hex'),
      ciphertext_length: ctLen,
      trailing_mode_byte: trailing,
    },
    plaintext,
  };
}

function main() {
  const chunks = [];
  process.stdin.on('data', (c) => chunks.push(c));
  process.stdin.on('end', () => {
    let input;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      process.stderr.write('zego_decode: stdin is not JSON\n');
      process.exit(2);
    }
    if (!Array.isArray(input)) {
      process.stderr.write('zego_decode: stdin must be a JSON array\n');
      process.exit(2);
    }
    const out = input.map((e) => decode(e && e.token, e && e.secret));
    process.stdout.write(JSON.stringify(out));
  });
}

main();

// sealwax explorer: re-checks in the browser what an explorer page shows.
//
// The page embeds its raw material in <script type="application/json"
// id="sealwax-material">: the log's verifier key, the signed checkpoint, and
// the inclusion and key directory proofs of what the page shows. This file
// recomputes every one of them with WebCrypto (Ed25519, SHA-256) and sets
// data-verified="true" on <main> only when all hold, "false" with the reason
// otherwise. It trusts nothing the server says about verification.
//
// Formats: docs/FORMATS.md (C2SP signed-note and tlog-checkpoint, RFC 9162
// inclusion proofs, the sealwax key directory). No framework, no network
// except the same-origin key-state record of a publisher too large to embed.
'use strict';

(function (root) {
  const enc = new TextEncoder();
  const subtle = () => {
    const c = root.crypto || (typeof globalThis !== 'undefined' ? globalThis.crypto : undefined);
    if (!c || !c.subtle) throw new Error('this browser has no WebCrypto (crypto.subtle): open the page over https or from localhost');
    return c.subtle;
  };

  function b64decode(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
      throw new Error('not standard base64: ' + String(s).slice(0, 40));
    }
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function hex(u8) {
    return Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function unhex(s) {
    if (typeof s !== 'string' || !/^([0-9a-f]{2})*$/.test(s)) throw new Error('not lowercase hex: ' + String(s).slice(0, 40));
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }

  function concat(...parts) {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  async function sha256(...parts) {
    return new Uint8Array(await subtle().digest('SHA-256', concat(...parts)));
  }

  // ----- RFC 9162 Merkle tree -----

  const ZERO = Uint8Array.of(0);
  const ONE = Uint8Array.of(1);

  /** The RFC 9162 leaf hash of entry bytes. */
  function leafHash(entry) { return sha256(ZERO, entry); }

  /** The RFC 9162 interior node hash. */
  function nodeHash(left, right) { return sha256(ONE, left, right); }

  /**
   * The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or an error.
   * index and size are BigInt or safe integers; proof is a list of 32-byte hashes.
   */
  async function rootFromInclusion(index, size, leaf, proof) {
    let fn = BigInt(index);
    let sn = BigInt(size) - 1n;
    if (fn > sn) throw new Error(`index ${index} is not below tree size ${size}`);
    if (leaf.length !== 32) throw new Error('the leaf hash is not 32 bytes');
    let r = leaf;
    for (const p of proof) {
      if (p.length !== 32) throw new Error('a proof hash is not 32 bytes');
      if (sn === 0n) throw new Error('the inclusion proof is too long');
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error('the inclusion proof is too short');
    return r;
  }

  /** Checks an inclusion proof against a root; throws with the reason. */
  async function verifyInclusion(index, size, leaf, proof, rootHash) {
    const r = await rootFromInclusion(index, size, leaf, proof);
    if (!equal(r, rootHash)) throw new Error(`the inclusion proof of entry ${index} does not lead to the checkpoint's root hash`);
  }

  // ----- C2SP signed note and checkpoint -----

  /** Parses a verifier key `<name>+<8 hex key ID>+<base64(0x01 || key)>` and checks its key ID. */
  async function parseVerifierKey(vkey) {
    const a = vkey.indexOf('+');
    const b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
    if (a <= 0 || b < 0) throw new Error('the log key is not <name>+<key ID>+<key>');
    const name = vkey.slice(0, a);
    const id = vkey.slice(a + 1, b);
    const raw = b64decode(vkey.slice(b + 1));
    if (raw.length !== 33 || raw[0] !== 1) throw new Error('the log key is not an Ed25519 (type 0x01) key');
    const pub = raw.slice(1);
    const want = (await sha256(enc.encode(name), Uint8Array.of(0x0a, 0x01), pub)).slice(0, 4);
    if (hex(want) !== id) throw new Error('the log key\'s key ID does not match its name and key');
    return { name, keyId: want, publicKey: pub };
  }

  /** Splits a signed note into its text and signature lines. */
  function parseNote(note) {
    const split = note.lastIndexOf('\n\n');
    if (split < 0) throw new Error('the checkpoint has no blank line before its signatures');
    const text = note.slice(0, split + 1);
    let rest = note.slice(split + 2);
    if (!rest.endsWith('\n')) throw new Error('the checkpoint\'s last signature line does not end with a newline');
    rest = rest.slice(0, -1);
    const signatures = rest.split('\n').map((line) => {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      if (!m) throw new Error('a signature line of the checkpoint is malformed');
      return { name: m[1], bytes: b64decode(m[2]) };
    });
    return { text, signatures };
  }

  async function ed25519Verify(publicKey, signature, message) {
    const key = await subtle().importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    return subtle().verify({ name: 'Ed25519' }, key, signature, message);
  }

  /**
   * Verifies a checkpoint's signature by the log key and parses it:
   * { origin, size (BigInt), root, directoryRoot (or null), cosigners }.
   */
  async function verifyCheckpoint(vkey, note) {
    const key = await parseVerifierKey(vkey);
    const { text, signatures } = parseNote(note);
    const mine = signatures.filter((s) => s.name === key.name && s.bytes.length === 68 && equal(s.bytes.slice(0, 4), key.keyId));
    if (mine.length === 0) throw new Error('the checkpoint carries no signature by the log key shown on this page');
    let ok = false;
    for (const s of mine) {
      if (await ed25519Verify(key.publicKey, s.bytes.slice(4), enc.encode(text))) ok = true;
    }
    if (!ok) throw new Error('the checkpoint\'s signature does not verify against the log key');
    const lines = text.slice(0, -1).split('\n');
    if (lines.length < 3) throw new Error('the checkpoint has fewer than three lines');
    if (lines[0] !== key.name) throw new Error('the checkpoint\'s origin is not the log key\'s name');
    if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('the checkpoint\'s tree size is not a decimal number');
    const rootHash = b64decode(lines[2]);
    if (rootHash.length !== 32) throw new Error('the checkpoint\'s root hash is not 32 bytes');
    let directoryRoot = null;
    for (const line of lines.slice(3)) {
      if (line.split(' ')[0] !== 'sealwax-directory') continue;
      const m = /^sealwax-directory ([A-Za-z0-9+/]{43}=)$/.exec(line);
      if (!m || directoryRoot) throw new Error('the checkpoint\'s sealwax-directory line is malformed or repeated');
      directoryRoot = b64decode(m[1]);
    }
    const cosigners = signatures.filter((s) => s.name !== key.name).map((s) => s.name);
    return { origin: lines[0], size: BigInt(lines[1]), root: rootHash, directoryRoot, cosigners, text, signatures };
  }

  // ----- C2SP tlog-cosignature and the witness policy -----

  /**
   * The timestamp (BigInt) of witness w's valid cosignature/v1 among a
   * note's signature lines; null when none names it; 'failed' when one names
   * it (name and key ID) but does not verify. w: { key (base64), key_name? }.
   */
  async function witnessCosigned(w, text, signatures) {
    const pub = b64decode(w.key);
    if (pub.length !== 32) throw new Error('a witness key of the policy is not 32 bytes');
    let failed = false;
    for (const s of signatures) {
      if (w.key_name !== undefined && w.key_name !== null && s.name !== w.key_name) continue;
      const id = (await sha256(enc.encode(s.name), Uint8Array.of(0x0a, 0x04), pub)).slice(0, 4);
      if (s.bytes.length < 4 || !equal(id, s.bytes.slice(0, 4))) continue;
      if (s.bytes.length !== 4 + 8 + 64) { failed = true; continue; }
      const ts = new DataView(s.bytes.slice(4, 12).buffer).getBigUint64(0);
      if (ts > 0x7fffffffffffffffn) { failed = true; continue; }
      const msg = enc.encode(`cosignature/v1\ntime ${ts}\n${text}`);
      if (await ed25519Verify(pub, s.bytes.slice(12), msg)) return ts;
      failed = true;
    }
    return failed ? 'failed' : null;
  }

  /** Whether a quorum node ({witness: i} or {k, members}) is met by the cosigned flags. */
  function quorumMet(node, ok) {
    if (typeof node.witness === 'number') return ok[node.witness] === true;
    if (typeof node.k !== 'number' || !Array.isArray(node.members)) throw new Error('the witness policy\'s quorum is malformed');
    return node.members.filter((m) => quorumMet(m, ok)).length >= node.k;
  }

  /**
   * Checks that a verified checkpoint's cosignatures meet the witness
   * policy's quorum; resolves to the names of the witnesses that cosigned.
   */
  async function verifyQuorum(cp, policy) {
    const ok = [];
    const names = [];
    const failed = [];
    for (const w of policy.witnesses) {
      const r = await witnessCosigned(w, cp.text, cp.signatures);
      ok.push(typeof r === 'bigint');
      if (typeof r === 'bigint') names.push(w.name);
      if (r === 'failed') failed.push(w.name);
    }
    if (!quorumMet(policy.quorum, ok)) {
      throw new Error('the checkpoint is not cosigned by a quorum of the log\'s witnesses' +
        ` (verified: ${names.join(', ') || 'none'}` + (failed.length ? `; failed: ${failed.join(', ')}` : '') + ')');
    }
    return names;
  }

  // ----- the sealwax key directory -----

  const EMPTY = new Uint8Array(32);
  const domain = (d) => concat(enc.encode(d), ZERO);

  function publisherKey(publisher) { return sha256(domain('sealwax/v1 publisher'), enc.encode(publisher)); }
  function releaseKey(release) { return sha256(domain('sealwax/v1 release'), enc.encode(release)); }
  function recordHash(record) { return sha256(domain('sealwax/v1 key-state'), record); }
  function releaseValue(index, sha) {
    const i = new Uint8Array(8);
    new DataView(i.buffer).setBigUint64(0, BigInt(index));
    return sha256(domain('sealwax/v1 release-record'), i, sha);
  }
  function dirLeaf(key, value) { return sha256(domain('sealwax/v1 directory leaf'), key, value); }
  function dirNode(left, right) { return sha256(domain('sealwax/v1 directory node'), left, right); }
  const bit = (key, d) => (key[d >> 3] >> (7 - (d & 7))) & 1;

  /** Decodes a directory proof's canonical encoding, refusing any other. */
  function decodeDirectoryProof(bytes) {
    if (bytes.length < 3) throw new Error('the directory proof is truncated');
    const kind = bytes[0];
    if (kind > 2) throw new Error('the directory proof has an unknown kind');
    const depth = (bytes[1] << 8) | bytes[2];
    if (depth > 256) throw new Error('the directory proof is deeper than 256 levels');
    const mapLen = Math.ceil(depth / 8);
    if (bytes.length < 3 + mapLen) throw new Error('the directory proof is truncated');
    const bitmap = bytes.slice(3, 3 + mapLen);
    let n = 0;
    for (let d = 0; d < mapLen * 8; d++) {
      if (bit(bitmap, d)) {
        if (d >= depth) throw new Error('the directory proof has a padding bit set');
        n++;
      }
    }
    const want = 3 + mapLen + 32 * n + (kind === 2 ? 64 : 0);
    if (bytes.length !== want) throw new Error('the directory proof has the wrong length');
    const siblings = [];
    let at = 3 + mapLen;
    for (let d = 0; d < depth; d++) {
      if (bit(bitmap, d)) {
        const h = bytes.slice(at, at + 32);
        if (equal(h, EMPTY)) throw new Error('the directory proof lists an empty sibling');
        siblings.push(h);
        at += 32;
      } else {
        siblings.push(EMPTY);
      }
    }
    const other = kind === 2 ? { key: bytes.slice(at, at + 32), value: bytes.slice(at + 32, at + 64) } : null;
    return { kind, siblings, other };
  }

  /** Checks that `proof` shows `key` holding `value` (or absent, value null) under `rootHash`. */
  async function verifyDirectory(rootHash, key, value, proofBytes) {
    const p = decodeDirectoryProof(proofBytes);
    const depth = p.siblings.length;
    if (depth > 0 && equal(p.siblings[depth - 1], EMPTY)) throw new Error('the directory proof ends beside an empty subtree');
    let h;
    if (value && p.kind === 0) {
      h = await dirLeaf(key, value);
    } else if (!value && p.kind === 1) {
      h = EMPTY;
    } else if (!value && p.kind === 2) {
      if (equal(p.other.key, key)) throw new Error('the directory proof shows the key\'s own leaf as another key\'s');
      for (let d = 0; d < depth; d++) {
        if (bit(p.other.key, d) !== bit(key, d)) throw new Error('the directory proof ends at a leaf off the key\'s path');
      }
      h = await dirLeaf(p.other.key, p.other.value);
    } else if (value) {
      throw new Error('the directory proof shows the key absent, but the page shows a value');
    } else {
      throw new Error('the directory proof shows the key present, but the page shows none');
    }
    for (let d = depth - 1; d >= 0; d--) {
      h = bit(key, d) ? await dirNode(p.siblings[d], h) : await dirNode(h, p.siblings[d]);
    }
    if (!equal(h, rootHash)) throw new Error('the directory proof does not lead to the checkpoint\'s directory root');
  }

  // ----- the key-state record (docs/FORMATS.md, "Key state record") -----

  /** Decodes a key-state record: { publisher, keys: [{ keyHash, keyId, standing, voucher }] }. */
  async function decodeRecord(bytes) {
    let at = 0;
    const need = (n) => { if (at + n > bytes.length) throw new Error('the key-state record is truncated'); const b = bytes.subarray(at, at + n); at += n; return b; };
    const u8 = () => need(1)[0];
    const u32 = () => new DataView(need(4).slice().buffer).getUint32(0);
    const u64 = () => new DataView(need(8).slice().buffer).getBigUint64(0);
    const auth = () => {
      const t = u8();
      if (t === 0) return 'claim';
      if (t === 1) return hex(need(32));
      if (t === 2) return 'operator';
      throw new Error('the key-state record has an unknown authorization');
    };
    const opt = () => {
      const t = u8();
      if (t === 0) return null;
      if (t === 1) return u64();
      throw new Error('the key-state record has a malformed index');
    };
    if (u8() !== 1) throw new Error('the key-state record has an unknown version');
    const publisher = new TextDecoder().decode(need(u8()));
    const count = u32();
    const keys = [];
    for (let i = 0; i < count; i++) {
      const key = need(40);
      u64(); // registered_at
      let voucher = auth();
      const vouchings = u32();
      for (let v = 0; v < vouchings; v++) { u64(); voucher = auth(); }
      const retired = opt();
      const compromised = opt();
      const suspended = u8();
      if (suspended > 1) throw new Error('the key-state record has a malformed standing');
      const standing = compromised !== null ? 'compromised' : suspended ? 'suspended' : retired !== null ? 'retired' : 'active';
      const keyId = hex(key.slice(0, 8).reverse()).toUpperCase();
      keys.push({ keyHash: hex(await sha256(enc.encode('Ed'), key)), keyId, standing, voucher });
    }
    if (at !== bytes.length) throw new Error('the key-state record has trailing bytes');
    return { publisher, keys };
  }

  /**
   * Checks the key table a publisher page shows against the verified
   * record: the count, and each row's key ID, state and voucher.
   */
  function checkKeyTable(doc, record) {
    const count = doc.getElementById('key-count');
    if (count && !count.textContent.trim().startsWith(`${record.keys.length} key(s)`)) {
      throw new Error(`the page shows another number of keys than the key-state record (${record.keys.length})`);
    }
    const byHash = new Map(record.keys.map((k) => [k.keyHash, k]));
    let rows = 0;
    for (const row of doc.querySelectorAll('tr[id^="key-"]')) {
      const k = byHash.get(row.id.slice(4));
      if (!k) throw new Error('the key table shows a key the key-state record does not hold');
      const text = (label, sel) => { const e = row.querySelector(`td[data-label="${label}"] ${sel}`); return e ? e.textContent.trim() : null; };
      if (text('Key ID', 'code') !== k.keyId) throw new Error(`the key table shows the wrong key ID for key ${k.keyId}`);
      if (text('State', 'strong') !== k.standing) throw new Error(`the key table shows key ${k.keyId} as ${text('State', 'strong')}, the record as ${k.standing}`);
      const cell = row.querySelector('td[data-label="Vouched for by"]');
      const link = cell && cell.querySelector('a');
      const shown = link ? link.getAttribute('href').replace(/^#key-/, '') : cell ? (cell.textContent.includes('operator') ? 'operator' : cell.textContent.trim()) : null;
      if (shown !== k.voucher) throw new Error(`the key table shows the wrong voucher for key ${k.keyId}`);
      rows++;
    }
    return rows;
  }

  /**
   * Checks the release table a publisher page shows against the verified
   * release proofs: every row names (in its cells) the release it is
   * proven for, and links to the first signature the proof binds it to.
   */
  function checkReleaseTable(doc, items) {
    const proven = new Map(items.filter((i) => i.kind === 'release').map((i) => [i.name, i]));
    let rows = 0;
    let pkg = null;
    for (const row of doc.querySelectorAll('tr[data-release]')) {
      const name = row.getAttribute('data-release');
      const th = row.querySelector('th[scope="row"]');
      if (th) pkg = th.textContent.trim();
      const version = row.querySelector('td.version');
      const at = name.indexOf('/');
      if (pkg === null || !version || name.slice(at + 1) !== `${pkg}@${version.textContent.trim()}`) {
        throw new Error(`the release table shows another release in the row proven for ${name}`);
      }
      const item = proven.get(name);
      if (!item) throw new Error(`the release table shows ${name} without a key directory proof`);
      const link = row.querySelector('a[data-index]');
      if (item.index === undefined || item.index === null || !link ||
          link.getAttribute('data-index') !== String(item.index) || link.textContent.trim() !== `#${item.index}`) {
        throw new Error(`the release table links ${name} to another signature than its proof binds it to`);
      }
      rows++;
    }
    return rows;
  }

  // ----- one page -----

  async function fetchRecord(url) {
    const r = await fetch(url, { credentials: 'omit' });
    if (!r.ok) throw new Error(`cannot fetch the key-state record (${r.status})`);
    return new Uint8Array(await r.arrayBuffer());
  }

  /**
   * Verifies a page's material; resolves to a summary of what was checked,
   * rejects with the reason something does not hold.
   */
  async function verifyMaterial(m, doc) {
    let keyRows = 0;
    const cp = await verifyCheckpoint(m.log_key, m.checkpoint);
    const cosignedBy = m.witnesses ? await verifyQuorum(cp, m.witnesses) : null;
    let inclusion = 0;
    for (const item of m.inclusion || []) {
      if (BigInt(item.tree_size) !== cp.size) throw new Error(`the inclusion proof of entry ${item.index} is for another tree size than the checkpoint's`);
      const leaf = item.entry !== undefined ? await leafHash(b64decode(item.entry)) : b64decode(item.leaf_hash);
      await verifyInclusion(item.index, cp.size, leaf, item.proof.map(b64decode), cp.root);
      inclusion++;
    }
    let directory = 0;
    for (const item of m.directory || []) {
      if (!cp.directoryRoot) throw new Error('the checkpoint commits to no key directory');
      let key;
      let value = null;
      if (item.kind === 'publisher') {
        key = await publisherKey(item.name);
        let record = item.record ? b64decode(item.record) : null;
        if (!record && item.record_url) record = await fetchRecord(item.record_url);
        if (item.present && !record) throw new Error('the page lists keys but carries no key-state record');
        if (record) {
          value = await recordHash(record);
          const decoded = await decodeRecord(record);
          if (decoded.publisher !== item.name) throw new Error('the key-state record is another publisher\'s');
          if (doc) keyRows += checkKeyTable(doc, decoded);
        }
      } else if (item.kind === 'release') {
        key = await releaseKey(item.name);
        if (item.index !== undefined && item.index !== null) value = await releaseValue(item.index, unhex(item.sha256));
      } else {
        throw new Error('unknown directory item');
      }
      await verifyDirectory(cp.directoryRoot, key, value, b64decode(item.proof));
      directory++;
    }
    const releaseRows = doc ? checkReleaseTable(doc, m.directory || []) : 0;
    return { size: cp.size.toString(), inclusion, directory, keyRows, releaseRows, cosigners: cp.cosigners, cosignedBy };
  }

  function show(main, ok, message) {
    // For the browser tests: milliseconds from navigation start to the verdict.
    if (root.performance) main.setAttribute('data-verified-ms', String(Math.round(root.performance.now())));
    main.setAttribute('data-verified', ok ? 'true' : 'false');
    const badge = document.getElementById('verify-badge');
    if (badge) {
      badge.className = ok ? 'badge ok' : 'badge bad';
      badge.textContent = (ok ? '\u2714 Verified in your browser: ' : '\u2718 Verification failed: ') + message;
    }
  }

  async function run() {
    const main = document.querySelector('main');
    const data = document.getElementById('sealwax-material');
    if (!main || !data) return;
    try {
      const m = JSON.parse(data.textContent);
      const s = await verifyMaterial(m, document);
      show(main, true, `checkpoint signature at tree size ${s.size}, ${s.inclusion} inclusion proof(s), ${s.directory} key directory proof(s)` +
        (s.keyRows ? `, ${s.keyRows} key(s) shown match the proven key state` : '') +
        (s.releaseRows ? `, ${s.releaseRows} release(s) shown match their proofs` : '') +
        (s.cosignedBy ? `, cosigned by a quorum of the witness policy shown on the front page (${s.cosignedBy.join(', ')})`
          : s.cosigners.length ? ` (cosignatures by ${s.cosigners.join(', ')} not checked: the log has no witness policy)` : ''));
    } catch (e) {
      show(main, false, e && e.message ? e.message : String(e));
    }
  }

  const api = {
    b64decode, hex, unhex, sha256, leafHash, nodeHash, rootFromInclusion, verifyInclusion,
    parseVerifierKey, parseNote, verifyCheckpoint, witnessCosigned, quorumMet, verifyQuorum, publisherKey, releaseKey, recordHash,
    releaseValue, decodeDirectoryProof, verifyDirectory, decodeRecord, checkKeyTable, checkReleaseTable, verifyMaterial,
  };
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.sealwaxVerify = api;
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
    else run();
  }
})(typeof window !== 'undefined' ? window : globalThis);

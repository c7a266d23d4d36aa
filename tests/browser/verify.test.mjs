// Unit tests of the explorer's in-browser verifier (log-server/src/explorer/verify.js)
// against the project's vectors: RFC 9162 inclusion proofs (testdata/merkle,
// from transparency-dev/merkle), the C2SP signed-note example
// (testdata/signed-note) and the key directory vectors
// (proto/tests/vectors/directory) and the cosignature quorum vectors
// (proto/tests/vectors/cosignature). Run: node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const v = createRequire(import.meta.url)(join(repo, 'log-server/src/explorer/verify.js'));

function jsonFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsonFiles(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : []);
}

test('RFC 9162 inclusion vectors: happy paths verify, tampered ones do not', async () => {
  const files = jsonFiles(join(repo, 'testdata/merkle/inclusion'));
  assert.ok(files.length > 50, `only ${files.length} vectors`);
  let good = 0;
  let bad = 0;
  for (const f of files) {
    const c = JSON.parse(readFileSync(f, 'utf8'));
    const proof = (c.proof || []).map(v.b64decode);
    let ok = true;
    try {
      await v.verifyInclusion(c.leafIdx, c.treeSize, v.b64decode(c.leafHash || ''), proof, v.b64decode(c.root || ''));
    } catch {
      ok = false;
    }
    assert.equal(ok, !c.wantErr, `${f}: ${c.desc}`);
    if (ok) good++; else bad++;
  }
  assert.ok(good > 5 && bad > 40, `${good} good, ${bad} bad`);
});

test('the C2SP signed-note example verifies, and a flipped signature byte does not', async () => {
  const dir = join(repo, 'testdata/signed-note');
  const vkey = readFileSync(join(dir, 'example.vkey'), 'utf8').trim();
  const note = readFileSync(join(dir, 'example.note'), 'utf8');
  const { text, signatures } = v.parseNote(note);
  const key = await v.parseVerifierKey(vkey);
  const sig = signatures.find((s) => s.name === key.name);
  assert.ok(sig, 'the example is signed by its key');
  const subtle = globalThis.crypto.subtle;
  const k = await subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  assert.equal(await subtle.verify({ name: 'Ed25519' }, k, sig.bytes.slice(4), new TextEncoder().encode(text)), true);
  const flipped = sig.bytes.slice(4);
  flipped[10] ^= 1;
  assert.equal(await subtle.verify({ name: 'Ed25519' }, k, flipped, new TextEncoder().encode(text)), false);
  await assert.rejects(v.parseVerifierKey(vkey.replace(/\+([0-9a-f]{8})\+/, '+00000000+')), /key ID/);
});

test('key directory vectors: keys, values and proofs verify; edits are refused', async () => {
  const files = jsonFiles(join(repo, 'proto/tests/vectors/directory'));
  assert.ok(files.length >= 4);
  let proofs = 0;
  for (const f of files) {
    const t = JSON.parse(readFileSync(f, 'utf8'));
    for (const leaf of t.leaves) {
      if (leaf.publisher) {
        assert.equal(v.hex(await v.publisherKey(leaf.publisher)), leaf.key, `${f} ${leaf.publisher}`);
        assert.equal(v.hex(await v.recordHash(v.unhex(leaf.record))), leaf.value);
        const rec = await v.decodeRecord(v.unhex(leaf.record));
        assert.equal(rec.publisher, leaf.publisher);
        assert.ok(rec.keys.length > 0 && rec.keys.every((k) => /^[0-9A-F]{16}$/.test(k.keyId)));
        await assert.rejects(v.decodeRecord(v.unhex(leaf.record + '00')), /trailing/);
      }
      if (leaf.release) {
        assert.equal(v.hex(await v.releaseKey(leaf.release)), leaf.key, `${f} ${leaf.release}`);
        assert.equal(v.hex(await v.releaseValue(leaf.index, v.unhex(leaf.sha256))), leaf.value);
      }
    }
    const root = v.unhex(t.root);
    for (const p of t.proofs) {
      const key = v.unhex(p.key);
      const value = p.value ? v.unhex(p.value) : null;
      const bytes = v.b64decode(p.proof);
      await v.verifyDirectory(root, key, value, bytes);
      proofs++;
      // Another value, or absence claimed for a present key, is refused.
      const other = new Uint8Array(32).fill(7);
      await assert.rejects(v.verifyDirectory(root, key, value ? other : other, bytes), `${f}: ${p.desc}`);
      // A flipped byte anywhere in the proof is refused.
      for (let i = 0; i < bytes.length; i += Math.max(1, Math.floor(bytes.length / 7))) {
        const b = bytes.slice();
        b[i] ^= 1;
        await assert.rejects(v.verifyDirectory(root, key, value, b), `${f}: ${p.desc}: byte ${i}`);
      }
    }
  }
  assert.ok(proofs > 5, `${proofs} proofs`);
  // The vectors' histories: a compromised claim key, two keys suspended through it, a retired key.
  const t = JSON.parse(readFileSync(join(repo, 'proto/tests/vectors/directory/publishers-and-releases.json'), 'utf8'));
  const states = [];
  for (const leaf of t.leaves.filter((l) => l.record)) {
    states.push(...(await v.decodeRecord(v.unhex(leaf.record))).keys.map((k) => k.standing));
  }
  const n = (s) => states.filter((x) => x === s).length;
  assert.deepEqual([n('compromised'), n('suspended'), n('retired')], [1, 2, 1], states.join(' '));
});

test('cosignature quorum vectors: proto\'s accepted cases verify here, its refused ones do not', async () => {
  const f = JSON.parse(readFileSync(join(repo, 'proto/tests/vectors/cosignature/quorum.json'), 'utf8'));
  const policy = { witnesses: f.witnesses, quorum: f.quorum };
  let yes = 0;
  let no = 0;
  for (const c of f.cases) {
    const cp = await v.verifyCheckpoint(f.log_key, c.note);
    let ok = true;
    let why = '';
    try {
      await v.verifyQuorum(cp, policy);
    } catch (e) {
      ok = false;
      why = e.message;
    }
    assert.equal(ok, c.accepted, `${c.desc}: ${why}`);
    if (ok) yes++; else { no++; assert.match(why, /not cosigned by a quorum/); }
  }
  assert.ok(yes >= 3 && no >= 4, `${yes} accepted, ${no} refused`);
  // The flipped-bit case names the witness whose line failed.
  const flipped = f.cases.find((c) => c.desc.includes('flipped'));
  const cp = await v.verifyCheckpoint(f.log_key, flipped.note);
  await assert.rejects(v.verifyQuorum(cp, policy), /failed: W2/);
});

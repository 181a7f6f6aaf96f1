// The checked-in cipher table must be exactly what the generator makes from the shared CSV, so the table can
// never drift from data/cipher-suites.csv (a copy of ../shared/data/cipher-suites.csv). Fix a failure with `npm run gen:ciphers`.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CIPHER_SUITES } from '../../src/ciphers/suites.generated.js';

// Compiled to dist/test/unit/, three levels below the project root.
const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
const csvPath = path.join(projectRoot, 'data', 'cipher-suites.csv');
const generator = path.join(projectRoot, 'scripts', 'gen-cipher-table.mjs');
const checkedIn = path.join(projectRoot, 'src', 'ciphers', 'suites.generated.ts');

test('suites.generated.ts is byte-identical to a fresh run of the generator', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tlscensus-ciphers-'));
  try {
    const out = path.join(dir, 'suites.generated.ts');
    execFileSync(process.execPath, [generator, csvPath, out], { stdio: 'pipe' });
    const fresh = readFileSync(out);
    const current = readFileSync(checkedIn);
    assert.ok(fresh.equals(current), 'src/ciphers/suites.generated.ts is stale: run `npm run gen:ciphers`');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the table has the 365 rows data/README.md announces, one per code point', () => {
  assert.equal(CIPHER_SUITES.length, 365);
  assert.equal(new Set(CIPHER_SUITES.map((s) => s.code)).size, 365);
  const csvRows = readFileSync(csvPath, 'utf8').trimEnd().split('\n').length - 1;
  assert.equal(csvRows, 365);
});

test('the generator rejects a malformed CSV instead of writing a broken table', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tlscensus-ciphers-'));
  try {
    const bad = path.join(dir, 'bad.csv');
    const header = readFileSync(csvPath, 'utf8').split('\n')[0] ?? '';
    writeFileSync(bad, `${header}\n"0x00,0x01",x\n`);
    assert.throws(() => execFileSync(process.execPath, [generator, bad, path.join(dir, 'out.ts')], { stdio: 'pipe' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

#!/usr/bin/env node
// npm run bench:hostile: no log line may cost the census seconds. Log text is written by strangers, and a regular
// expression that backtracks (or a search repeated per element) turns one long line into a quadratic read: a
// Sendmail `from=` line of 60 KB once took 3.5 s. This takes every line of the dialect fixtures, blows a fragment
// of its message up to about 60 KB (the lines the census reads are at most 64 KiB), times the dialect's
// interpreter on it, and exits 1 if one took longer than the limit. Timed, so never part of `npm test`.
//
//   node bench/hostile-lines.mjs [--limit MS]

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIALECTS } from '../dist/src/dialects/registry.js';
import { parseZone, WallClock, YearResolver } from '../dist/src/envelope/clock.js';
import { parseEnvelope } from '../dist/src/envelope/parse-envelope.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(root, 'test', 'fixtures', 'dialects');
const limitArg = process.argv.indexOf('--limit');
const limitMs = limitArg > 0 ? Number(process.argv[limitArg + 1]) : 100;
const TARGET_CHARS = 60_000;

const ctx = { clock: new WallClock(parseZone('UTC')), years: new YearResolver(2026, 0) };
const slow = [];
let tried = 0;
for (const dialect of DIALECTS) {
  const interpret = dialect.createInterpreter();
  const lines = fs
    .readFileSync(path.join(fixtures, `${dialect.id}.log`), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const line of lines) {
    const env = parseEnvelope(line, ctx);
    if (env === null || !dialect.claims(env.program)) continue;
    const m = env.message;
    // A fragment from a few places of the message, of a few lengths, repeated where it was.
    for (const at of [0, Math.floor(m.length / 3), Math.floor(m.length / 2), Math.floor((2 * m.length) / 3)]) {
      for (const length of [8, 16, 40]) {
        const fragment = m.slice(at, at + length);
        if (fragment.length < 2) continue;
        const message = m.slice(0, at) + fragment.repeat(Math.ceil(TARGET_CHARS / fragment.length)) + m.slice(at);
        const started = performance.now();
        try {
          interpret({ ...env, message });
        } catch {
          // A dialect must not throw either, but that is the conformance test's business: here only time counts.
        }
        const ms = performance.now() - started;
        tried++;
        if (ms > limitMs) slow.push({ ms, dialect: dialect.id, fragment, line });
      }
    }
  }
}

slow.sort((a, b) => b.ms - a.ms);
console.log(`${tried} blown-up lines, limit ${limitMs} ms each: ${slow.length} over it`);
for (const s of slow.slice(0, 20)) {
  console.log(
    `${s.ms.toFixed(0).padStart(6)} ms  ${s.dialect}  fragment ${JSON.stringify(s.fragment)}  of  ${s.line.slice(0, 100)}`,
  );
}
process.exit(slow.length > 0 ? 1 : 0);

#!/usr/bin/env node
// check-mta-census.mjs -- run `tlscensus report --format json` on a log a real daemon wrote and compare the census
// with the truth.json that lib/realmta.sh wrote while driving the sessions (the exim/ and sendmail/ suites).
//
//   node check.mjs --truth truth.json --log LOG --cli dist/src/cli/main.js --mta ID [--year YYYY]
//                  [--report-out report.json] [--expect-service in:smtps]...
//
// Compared, per direction (truth `in`/`out` = report `inbound`/`outbound`): sessions, tls, failed (= truth
// tls_failed + starttls_abandoned: both are handshakes that did not complete), plaintext, incomplete (= 0),
// sessions by protocol, and sessions by protocol × cipher. truth.json names suites the OpenSSL way and the MTA
// may log GnuTLS names: both sides are compared through the IANA name from tlscensus's cipher table. Coverage:
// lines = the log's line count, malformed = 0, every line has one outcome. Each mismatch is printed as
// expected vs actual, with the log lines of the sessions that produced that kind of event.
// Exit status: 0 all equal, 1 mismatches, 2 usage error or the CLI gave no JSON.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function usage(msg) {
  process.stderr.write(`check.mjs: ${msg}\n`);
  process.exit(2);
}
const args = { 'expect-service': [] };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i];
  const v = process.argv[i + 1];
  if (!['--truth', '--log', '--cli', '--mta', '--year', '--report-out', '--expect-service'].includes(k) || !v) {
    usage(`bad argument ${k}`);
  }
  if (k === '--expect-service') args['expect-service'].push(v);
  else args[k.slice(2)] = v;
}
if (!args.truth || !args.log || !args.cli || !args.mta) usage('need --truth, --log, --cli and --mta');

const cliPath = path.resolve(args.cli);
const { lookupCipherFor, normaliseProtocol } = await import(
  pathToFileURL(path.join(path.dirname(cliPath), '..', 'ciphers', 'lookup.js')).href
);
const truth = JSON.parse(fs.readFileSync(args.truth, 'utf8'));
let wcLines = 0;
for (const b of fs.readFileSync(args.log)) if (b === 10) wcLines++;

const argv = [cliPath, 'report', '--format', 'json', '--mta', args.mta];
if (args.year) argv.push('--year', args.year);
argv.push(args.log);
const label = `node ${argv.join(' ')}`;
const run = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  process.stderr.write(
    `${label}\n  exit ${run.status}\n  stdout: ${run.stdout?.slice(0, 2000)}\n  stderr: ${run.stderr?.slice(0, 2000)}\n`,
  );
  usage('the CLI did not print a JSON document');
}
if (args['report-out']) fs.writeFileSync(args['report-out'], `${JSON.stringify(report, null, 2)}\n`);

const iana = (protocol, cipher) => lookupCipherFor(normaliseProtocol(protocol), cipher)?.iana ?? cipher;
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
function truthByIana(counts) {
  const out = {};
  for (const [k, n] of Object.entries(counts)) {
    const [protocol, cipher] = k.split(' ');
    const key = `${protocol} ${iana(protocol, cipher)}`;
    out[key] = (out[key] ?? 0) + n;
  }
  return sorted(out);
}
function reportBy(rows, keyOf) {
  const out = {};
  for (const r of rows ?? []) out[keyOf(r)] = (out[keyOf(r)] ?? 0) + r.count;
  return sorted(out);
}

// Log lines of the sessions that produced an event of this direction/outcome: shown with a mismatch.
function linesFor(dir, outcome) {
  const out = [];
  for (const s of truth.sessions) {
    if (!s.expected_events.some((e) => e.direction === dir && (!outcome || e.outcome === outcome))) continue;
    for (const l of s.log_lines)
      if (/TLS|X=|STARTTLS|<=|=>|no MAIL|from=|to=|did not issue/.test(l)) out.push(`      [${s.id}] ${l}`);
  }
  return out.length > 30 ? [...out.slice(0, 30), `      ... ${out.length - 30} more`] : out;
}

const diffs = [];
let checks = 0;
function eq(where, expected, actual, context = []) {
  checks++;
  if (JSON.stringify(expected) !== JSON.stringify(actual)) diffs.push({ where, expected, actual, context });
}

eq('schema', 'tlscensus/report@1', report.schema);
eq(
  'exit status',
  0,
  run.status,
  (run.stderr ?? '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => `      ${l}`),
);
for (const [dir, key] of [
  ['in', 'inbound'],
  ['out', 'outbound'],
]) {
  const t = truth.counts[dir];
  const d = report[key] ?? {};
  const totals = d.totals ?? {};
  eq(`${key}.sessions`, t.sessions, totals.sessions, linesFor(dir));
  eq(`${key}.tls`, t.tls, totals.tls, linesFor(dir, 'tls'));
  eq(`${key}.failed (tls_failed + starttls_abandoned)`, t.tls_failed + t.starttls_abandoned, totals.failed, [
    ...linesFor(dir, 'tls_failed'),
    ...linesFor(dir, 'starttls_abandoned'),
  ]);
  eq(`${key}.plaintext`, t.plaintext, totals.plaintext, linesFor(dir, 'plaintext'));
  eq(`${key}.incomplete`, 0, totals.incomplete, []);
  eq(
    `${key}.by_protocol`,
    sorted(t.by_protocol),
    reportBy(d.spread, (r) => r.protocol),
    linesFor(dir, 'tls'),
  );
  eq(
    `${key}.by_protocol_cipher (IANA)`,
    truthByIana(t.by_protocol_cipher),
    reportBy(d.spread, (r) => `${r.protocol} ${r.iana ?? r.cipher}`),
    linesFor(dir, 'tls'),
  );
}
for (const want of args['expect-service']) {
  const [dir, service] = want.split(':');
  const key = dir === 'in' ? 'inbound' : 'outbound';
  const seen = [...new Set((report[key]?.spread ?? []).flatMap((r) => r.service))].sort();
  checks++;
  if (!seen.includes(service))
    diffs.push({ where: `${key} services`, expected: `includes ${service}`, actual: seen, context: [] });
}
const cov = report.coverage ?? {};
eq('coverage.lines (wc -l of the log)', wcLines, cov.lines);
eq('coverage.malformed', 0, cov.malformed);
eq(
  'coverage: lines == events + unrecognized + malformed + foreign',
  cov.lines,
  ['events', 'unrecognized', 'malformed', 'foreign'].reduce((n, k) => n + (cov[k] ?? Number.NaN), 0),
);

console.log(`\n== ${label}`);
if (diffs.length === 0) {
  console.log(`   OK: all ${checks} checks equal the truth`);
  for (const [key, d] of [
    ['inbound', report.inbound],
    ['outbound', report.outbound],
  ]) {
    const t = d.totals;
    console.log(`   ${key}: ${t.sessions} sessions, ${t.tls} TLS, ${t.failed} failed, ${t.plaintext} plaintext`);
  }
  console.log('PASS');
  process.exit(0);
}
console.log(`   ${diffs.length} of ${checks} checks differ from the truth:`);
for (const d of diffs) {
  console.log(
    `\n   MISMATCH ${d.where}\n     expected: ${JSON.stringify(d.expected)}\n     actual:   ${JSON.stringify(d.actual)}`,
  );
  if (d.context.length) console.log(`     log lines involved:\n${d.context.join('\n')}`);
}
console.log('\nFAIL');
process.exit(1);

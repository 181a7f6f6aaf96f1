#!/usr/bin/env node
// check-census.mjs -- compare the tlscensus JSON report (schema tlscensus/report@1) of a real daemon's log with
// the truth.json written by realmta.sh (what the scripted clients were made to do).
//
//   node check-census.mjs --truth truth.json --log LOG --cli dist/src/cli/main.js --mta ID
//                         [--in-section inbound|mailbox] [--report-out report.json] [--sink sink.jsonl]
//
// Runs `node CLI report --format json --mta ID --year YEAR LOG` and, as a second variant, the same with the
// default `--mta auto` and no --year; both must equal the truth. Per direction (truth `in` -> the report's
// --in-section, `out` -> outbound): sessions, tls, failed (= tls_failed + starttls_abandoned: a client that sent
// STARTTLS and hung up is a failed handshake), plaintext, trusted, noCommand, incomplete (0), and the spread as
// `protocol cipher-as-logged` -> count (no missing, extra or duplicate rows). The sections the truth has no
// events for must be empty; the report must name the MTA; coverage: lines == wc -l of the log, malformed == 0,
// lines == events + unrecognized + malformed + foreign. With --sink (the relay target's own record of each
// connection it accepted), the outbound TLS the truth expects must also be what the target negotiated.
// Every mismatch is printed as expected vs actual with the log lines of the sessions involved.
// Exit status: 0 all equal, 1 mismatches, 2 usage error or the CLI gave no JSON.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

function usage(msg) {
  process.stderr.write(`check-census.mjs: ${msg}\n`);
  process.exit(2);
}
const OPTS = ['--truth', '--log', '--cli', '--mta', '--in-section', '--report-out', '--sink'];
const args = { 'in-section': 'inbound' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i];
  if (!OPTS.includes(k)) usage(`unknown argument ${k}`);
  args[k.slice(2)] = process.argv[i + 1];
}
if (!args.truth || !args.log || !args.cli || !args.mta) usage('need --truth, --log, --cli and --mta');
if (!['inbound', 'mailbox'].includes(args['in-section'])) usage('--in-section is inbound or mailbox');

const truth = JSON.parse(fs.readFileSync(args.truth, 'utf8'));
let wcLines = 0;
for (const b of fs.readFileSync(args.log)) if (b === 10) wcLines++;

function runCli(extra) {
  const argv = [args.cli, 'report', '--format', 'json', ...extra, args.log];
  const label = `node ${argv.join(' ')}`;
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error) usage(`${label}: ${r.error.message}`);
  try {
    return { label, status: r.status, stderr: r.stderr, json: JSON.parse(r.stdout) };
  } catch {
    process.stderr.write(`${label}\n  exit ${r.status}\n  stdout: ${r.stdout.slice(0, 2000)}\n  stderr: ${r.stderr}\n`);
    return usage('the CLI did not print a JSON document');
  }
}
const variants = [runCli(['--mta', args.mta, '--year', String(truth.year)]), runCli([])];
if (args['report-out']) fs.writeFileSync(args['report-out'], `${JSON.stringify(variants[0].json, null, 2)}\n`);

const SECTION = { in: args['in-section'], out: 'outbound' };
const OUTCOME_OF = {
  tls: ['tls'],
  failed: ['tls_failed', 'starttls_abandoned'],
  plaintext: ['plaintext'],
  trusted: ['trusted'],
  noCommand: ['no_command'],
};

/** The log lines of the sessions that had an event of this direction (and outcome), to show with a mismatch. */
function linesFor(dir, outcomes) {
  const out = [];
  for (const s of truth.sessions) {
    if (!s.expected_events.some((e) => e.direction === dir && (!outcomes || outcomes.includes(e.outcome)))) continue;
    for (const l of s.log_lines) out.push(`      [${s.id}] ${l}`);
  }
  return out.length > 30 ? [...out.slice(0, 30), `      ... ${out.length - 30} more`] : out;
}

function compare(report) {
  const diffs = [];
  let checks = 0;
  const eq = (where, exp, act, context = []) => {
    checks++;
    if (JSON.stringify(exp) !== JSON.stringify(act)) diffs.push({ where, exp, act, context });
  };
  eq('schema', 'tlscensus/report@1', report?.schema);
  eq(`mtas includes ${args.mta}`, true, Array.isArray(report?.mtas) && report.mtas.includes(args.mta));
  for (const dir of ['in', 'out']) {
    const t = truth.counts[dir];
    const section = SECTION[dir];
    const act = report?.[section]?.totals ?? {};
    eq(`${section}.totals.sessions`, t.sessions, act.sessions, linesFor(dir));
    for (const [field, outcomes] of Object.entries(OUTCOME_OF)) {
      const exp = outcomes.reduce((n, o) => n + (t[o] ?? 0), 0);
      eq(`${section}.totals.${field}`, exp, act[field] ?? 0, linesFor(dir, outcomes));
    }
    eq(`${section}.totals.incomplete`, 0, act.incomplete, linesFor(dir));
    const spread = {};
    const dup = [];
    for (const row of report?.[section]?.spread ?? []) {
      const key = `${row.protocol} ${row.cipher}`;
      if (key in spread) dup.push(key);
      spread[key] = row.count;
    }
    eq(`${section}.spread duplicate rows`, [], dup);
    eq(`${section}.spread (protocol cipher-as-logged -> count)`, sorted(t.by_log_protocol_cipher), sorted(spread), [
      ...linesFor(dir, ['tls']),
    ]);
  }
  for (const section of ['inbound', 'outbound', 'mailbox']) {
    if (Object.values(SECTION).includes(section)) continue;
    eq(`${section}.totals.sessions (nothing was driven there)`, 0, report?.[section]?.totals?.sessions);
  }
  const cov = report?.coverage ?? {};
  eq('coverage.lines (wc -l of the log)', wcLines, cov.lines);
  eq('coverage.malformed', 0, cov.malformed);
  eq(
    'coverage: lines == events + unrecognized + malformed + foreign',
    cov.lines,
    ['events', 'unrecognized', 'malformed', 'foreign'].reduce((n, k) => n + (cov[k] ?? Number.NaN), 0),
  );
  return { diffs, checks };
}

function sorted(o) {
  return Object.fromEntries(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

let failed = false;
if (args.sink) {
  // The relay target's view: `{"tls":{"protocol","cipher"}|null,"messages":n}` per accepted connection.
  const seen = {};
  for (const line of fs.readFileSync(args.sink, 'utf8').split('\n')) {
    if (!line) continue;
    const c = JSON.parse(line);
    if (c.tls) seen[`${c.tls.protocol} ${c.tls.cipher}`] = (seen[`${c.tls.protocol} ${c.tls.cipher}`] ?? 0) + 1;
  }
  const exp = JSON.stringify(sorted(truth.counts.out.by_protocol_cipher));
  console.log(`\n== driver self-check: outbound TLS as the relay target negotiated it (${args.sink})`);
  if (JSON.stringify(sorted(seen)) === exp) console.log('   OK');
  else {
    console.log(
      `   MISMATCH\n     planned:             ${exp}\n     target negotiated:   ${JSON.stringify(sorted(seen))}`,
    );
    failed = true;
  }
}
for (const v of variants) {
  const { diffs, checks } = compare(v.json);
  if (v.status !== 0) diffs.unshift({ where: 'exit status', exp: 0, act: v.status, context: [`      ${v.stderr}`] });
  console.log(`\n== ${v.label}`);
  if (diffs.length === 0) {
    console.log(`   OK: all ${checks} checks equal the truth`);
    continue;
  }
  failed = true;
  console.log(`   ${diffs.length} of ${checks} checks differ from the truth:`);
  for (const d of diffs) {
    console.log(
      `\n   MISMATCH ${d.where}\n     expected: ${JSON.stringify(d.exp)}\n     actual:   ${JSON.stringify(d.act)}`,
    );
    if (d.context.length) console.log(`     log lines involved:\n${d.context.join('\n')}`);
  }
}
console.log(failed ? '\nFAIL' : '\nPASS');
process.exit(failed ? 1 : 0);

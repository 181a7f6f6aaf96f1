#!/usr/bin/env node
// check.mjs -- compare a tlscensus JSON report (schema tlscensus/report@1) with the truth written by drive.mjs.
//
//   node check.mjs --truth truth.json --log maillog --cli dist/src/cli/main.js [--report-out report.json]
//   node check.mjs --truth truth.json --log maillog --report report.json      (check a saved report)
//
// With --cli it runs `node CLI report --format json --year YEAR LOG` (YEAR from truth.json) and, as a second
// variant, the same without --year; both must match the truth. Checked: the schema; per direction every total,
// every spread row (protocol, cipher, iana, count, unknownClients, peers; no extra or duplicate rows), every
// failure row (peer host/ip, count, reasons) and plaintext row (peer host/ip, sessions, messages); coverage:
// lines == the log's line count (wc -l), malformed == 0, and lines == events + unrecognized + malformed +
// foreign (DESIGN.md §5: one outcome per line); when present, totals.incomplete == 0 and totals.tlsMessages /
// plaintextMessages. Array order is not checked. A peer host equal to its IP is
// read as "no name" (null). Every mismatch is printed as expected vs actual with the log lines involved.
// Exit status: 0 all equal, 1 mismatches, 2 usage error or the CLI could not be run / gave no JSON.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

function usage(msg) {
  process.stderr.write(`check.mjs: ${msg}\n`);
  process.exit(2);
}
const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i];
  if (!['--truth', '--log', '--cli', '--report', '--report-out'].includes(k)) usage(`unknown argument ${k}`);
  args[k.slice(2)] = process.argv[i + 1];
}
if (!args.truth || !args.log || !(args.cli || args.report)) usage('need --truth, --log and --cli or --report');

const truth = JSON.parse(fs.readFileSync(args.truth, 'utf8'));
const logBuf = fs.readFileSync(args.log);
let wcLines = 0;
for (const b of logBuf) if (b === 10) wcLines++;

// ------------------------------------------------------------- get reports ----
function runCli(extra) {
  const argv = [args.cli, 'report', '--format', 'json', ...extra, args.log];
  const label = `node ${argv.join(' ')}`;
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.error) usage(`${label}: ${r.error.message}`);
  let json = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    process.stderr.write(
      `${label}\n  exit ${r.status}\n  stdout: ${r.stdout.slice(0, 2000)}\n  stderr: ${r.stderr.slice(0, 2000)}\n`,
    );
    usage('the CLI did not print a JSON document');
  }
  return { label, status: r.status, stderr: r.stderr, json };
}
const variants = [];
if (args.report) {
  variants.push({ label: args.report, status: 0, stderr: '', json: JSON.parse(fs.readFileSync(args.report, 'utf8')) });
} else {
  variants.push(runCli(['--year', String(truth.year)]));
  variants.push(runCli([]));
}
if (args['report-out']) fs.writeFileSync(args['report-out'], `${JSON.stringify(variants[0].json, null, 2)}\n`);

// ------------------------------------------------------------------ compare ----
const fmt = (v) => (v === undefined ? '(missing)' : JSON.stringify(v));
const hostOf = (peer) => (peer && peer.host !== peer.ip ? (peer.host ?? null) : null);
const sortedObj = (o) =>
  o && typeof o === 'object'
    ? Object.fromEntries(
        Object.entries(o)
          .filter(([, v]) => v !== 0)
          .sort(([a], [b]) => a.localeCompare(b)),
      )
    : o;

// Log lines of the sessions that produced a given kind of event, to show with a mismatch: only the lines that
// decide a connection's outcome (connect, TLS, TLS errors, messages, disconnect) on the given side.
const KEY_LINE =
  /: (connect from|disconnect from|\S+ TLS connection established|SSL_(accept|connect) error|warning: TLS library problem|[0-9A-F]+: Cannot start TLS|[0-9A-F]+: client=|[0-9A-F]+: to=<.*status=sent)/;
const SIDE = { inbound: /postfix\/[\w/-]*smtpd\[/, outbound: /postfix\/smtp\[/ };
function linesFor(dir, pred, lineFilter) {
  const out = [];
  for (const s of truth.sessions) {
    if (!s.events.some((e) => e.direction === dir && pred(e))) continue;
    for (const l of s.logLines) {
      if (SIDE[dir].test(l) && KEY_LINE.test(l) && (!lineFilter || lineFilter(l))) out.push(`      [${s.id}] ${l}`);
    }
  }
  return out.length > 40 ? [...out.slice(0, 40), `      ... ${out.length - 40} more`] : out;
}

function compare(report) {
  const diffs = [];
  let checks = 0;
  const eq = (where, exp, act, context = []) => {
    checks++;
    if (JSON.stringify(exp) !== JSON.stringify(act)) diffs.push({ where, exp, act, context });
  };
  eq('schema', 'tlscensus/report@1', report?.schema);
  for (const dir of ['inbound', 'outbound']) {
    const exp = truth.expected[dir];
    const act = report?.[dir] ?? {};
    for (const [k, v] of Object.entries(exp.totals)) {
      const outcome = ['tls', 'failed', 'plaintext', 'noCommand'].includes(k) ? k : null;
      eq(
        `${dir}.totals.${k}`,
        v,
        act.totals?.[k],
        linesFor(dir, (e) => !outcome || e.outcome === outcome),
      );
    }
    // Totals outside the contract, checked only when the report has them: every driven connection was closed
    // before the log ended, and messages split by the connection's outcome.
    const events = truth.sessions.flatMap((s) => s.events).filter((e) => e.direction === dir);
    const sum = (outcome) => events.filter((e) => e.outcome === outcome).reduce((n, e) => n + e.messages, 0);
    const extra = { incomplete: 0, tlsMessages: sum('tls'), plaintextMessages: sum('plaintext') };
    for (const [k, v] of Object.entries(extra)) {
      if (act.totals && k in act.totals)
        eq(`${dir}.totals.${k} (not in the contract; checked when present)`, v, act.totals[k]);
    }
    // spread: keyed by protocol + cipher
    const actSpread = new Map();
    for (const row of Array.isArray(act.spread) ? act.spread : []) {
      const key = `${row.protocol} ${row.cipher}`;
      if (actSpread.has(key)) eq(`${dir}.spread[${key}]`, 'one row', 'duplicate rows');
      actSpread.set(key, row);
    }
    for (const row of exp.spread) {
      const key = `${row.protocol} ${row.cipher}`;
      const a = actSpread.get(key);
      const ctx = () =>
        linesFor(
          dir,
          (e) => e.outcome === 'tls' && e.protocol === row.protocol && e.cipher === row.cipher,
          (l) => l.includes(`: ${row.protocol} with cipher ${row.cipher} `),
        );
      if (!a) {
        eq(`${dir}.spread[${key}]`, row, undefined, ctx());
        continue;
      }
      actSpread.delete(key);
      for (const f of ['iana', 'count', 'unknownClients', 'peers'])
        eq(`${dir}.spread[${key}].${f}`, row[f], a[f], ctx());
      checks++;
      if (typeof a.rating !== 'string' || a.rating === '')
        diffs.push({ where: `${dir}.spread[${key}].rating`, exp: 'a rating', act: a.rating, context: [] });
    }
    for (const [key, a] of actSpread) eq(`${dir}.spread[${key}]`, undefined, a, []);
    // failures and plaintext: keyed by peer ip
    for (const [list, fields, outcome] of [
      ['failures', ['count', 'reasons'], 'failed'],
      ['plaintext', ['sessions', 'messages'], 'plaintext'],
    ]) {
      const actRows = new Map();
      for (const row of Array.isArray(act[list]) ? act[list] : []) {
        const ip = row?.peer?.ip;
        if (actRows.has(ip)) eq(`${dir}.${list}[${ip}]`, 'one row', 'duplicate rows');
        actRows.set(ip, row);
      }
      for (const row of exp[list]) {
        const ip = row.peer.ip;
        const a = actRows.get(ip);
        const ctx = () =>
          linesFor(
            dir,
            (e) => e.ip === ip && e.outcome === outcome,
            (l) => l.includes(`[${ip}]`) || l.includes('TLS library problem'),
          );
        if (!a) {
          eq(`${dir}.${list}[${ip}]`, row, undefined, ctx());
          continue;
        }
        actRows.delete(ip);
        eq(`${dir}.${list}[${ip}].peer.host`, row.peer.host, hostOf(a.peer), ctx());
        for (const f of fields) {
          const norm = f === 'reasons' ? sortedObj : (x) => x;
          eq(`${dir}.${list}[${ip}].${f}`, norm(row[f]), norm(a[f]), ctx());
        }
      }
      for (const [ip, a] of actRows) eq(`${dir}.${list}[${ip}]`, undefined, a, []);
    }
  }
  const cov = report?.coverage ?? {};
  eq('coverage.lines (wc -l of the log)', wcLines, cov.lines);
  eq('coverage.malformed', 0, cov.malformed, []);
  eq(
    'coverage: lines == events + unrecognized + malformed + foreign',
    cov.lines,
    ['events', 'unrecognized', 'malformed', 'foreign'].reduce((n, k) => n + (cov[k] ?? Number.NaN), 0),
  );
  return { diffs, checks };
}

// ------------------------------------------------------------------- report ----
let failed = false;
for (const v of variants) {
  const { diffs, checks } = compare(v.json);
  if (v.status !== 0) {
    diffs.unshift({
      where: 'exit status',
      exp: 0,
      act: v.status,
      context: v.stderr
        .trim()
        .split('\n')
        .map((l) => `      ${l}`),
    });
  }
  console.log(`\n== ${v.label}`);
  if (diffs.length === 0) {
    console.log(`   OK: all ${checks} checks equal the truth`);
    continue;
  }
  failed = true;
  console.log(`   ${diffs.length} of ${checks} checks differ from the truth:`);
  for (const d of diffs) {
    console.log(`\n   MISMATCH ${d.where}\n     expected: ${fmt(d.exp)}\n     actual:   ${fmt(d.act)}`);
    if (d.context.length) console.log(`     log lines involved:\n${d.context.join('\n')}`);
  }
}
console.log(failed ? '\nFAIL' : '\nPASS');
process.exit(failed ? 1 : 0);

#!/usr/bin/env node
// npm run bench: how fast is `tlscensus report --format json`, next to the grep one-liner it replaces, timed in
// the same run on the same files (DESIGN.md §3, issue 3). Never part of `npm test`.
//
//   node bench/run.mjs [--quick] [--runs N] [--cache DIR]
//
// Logs come from bench/genlog.mjs (a copy of ../shared/genlog.mjs, so the bench stands alone) and are kept in
// .bench-cache/ (git-ignored) with the generator's ground truth (its stderr) beside each: 100 MiB and 1 GiB, RFC
// 3164 and ISO stamps, and a .gz of the 1 GiB RFC 3164 log (--quick: the 100 MiB ones only). For each file the
// census and the yardstick run alternately, after one read to warm the page cache; the medians are compared:
//   plain files  LC_ALL=C egrep "TLS connection established from.*with cipher" F | grep -v -E "unknown\[" |
//                awk '{printf("%s %s %s %s\n", $12, $13, $14, $15)}' | sort | uniq -c | sort -n
//   .gz          gzip -dc F.gz | wc -l
// The 1 GiB RFC 3164 log is timed once more with `--history` (a fresh history file per run): not a target of
// issue 3, but what a cron job that keeps the history for `tlscensus trend` costs; and once with `--since` its last
// day (the lines before are skipped, census/window-seek.ts), and once `--since`/`--until` a day in its middle (the
// lines before and after are skipped), whose counts the whole log's ground truth cannot check.
// Peak RSS is the census process's (worker threads included: they are threads of the same process), from
// /usr/bin/time, or polled from /proc when that is missing. The census's counts are checked against the
// generator's ground truth; wrong counts make the exit code 1 (a missed performance target does not).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const genlog = path.join(here, 'genlog.mjs');

const args = process.argv.slice(2);
const opt = { quick: false, runs: 5, cache: path.join(root, '.bench-cache'), seed: 'bench1' };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quick') opt.quick = true;
  else if (a === '--runs') opt.runs = Math.max(1, Number(args[++i]));
  else if (a === '--cache') opt.cache = path.resolve(args[++i]);
  else if (a === '-h' || a === '--help') {
    process.stdout.write('usage: node bench/run.mjs [--quick] [--runs N] [--cache DIR]\n');
    process.exit(0);
  } else {
    process.stderr.write(`unknown option ${a}\n`);
    process.exit(2);
  }
}

const ONE_LINER =
  'LC_ALL=C egrep "TLS connection established from.*with cipher" "$F" | grep -v -E "unknown\\[" | ' +
  'awk \'{printf("%s %s %s %s\\n", $12, $13, $14, $15)}\' | sort | uniq -c | sort -n';
const GZIP_WC = 'gzip -dc "$F" | wc -l';

// ------------------------------------------------------------------------------------------------ logs

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The time of the log's last line (RFC 3164 stamps take their year from genlog's first_time, Dec → Jan). */
function lastLineTime(file, truth) {
  const fd = fs.openSync(file, 'r');
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(Math.min(size, 1 << 16));
  fs.readSync(fd, buf, 0, buf.length, size - buf.length);
  fs.closeSync(fd);
  const lines = buf
    .toString('latin1')
    .split('\n')
    .filter((l) => l !== '');
  const last = lines.at(-1) ?? '';
  const iso = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))/.exec(last);
  if (iso) return Date.parse(iso[1]);
  const m = /^([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d)/.exec(last);
  if (!m) throw new Error(`cannot read the time of the last line of ${file}`);
  const first = new Date(JSON.parse(fs.readFileSync(truth, 'utf8')).first_time);
  const month = MONTHS.indexOf(m[1]);
  const year = first.getUTCFullYear() + (month < first.getUTCMonth() ? 1 : 0);
  return Date.UTC(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

/**
 * A log's mtime is when its last line was written, and tlscensus reads the year of RFC 3164 stamps from it (months
 * after it are last year's). genlog writes logs dated from 2026-11-20 on, whatever the clock says: so that a
 * log reaching into a month after "now" is not read as last year's, give each file the time of its last line.
 */
function dateLikeALog(file, truth, logFile = file) {
  const t = new Date(lastLineTime(logFile, truth) + 1000);
  if (Math.abs(fs.statSync(file).mtimeMs - t.getTime()) > 1000) fs.utimesSync(file, t, t);
}

function ensureLog(name, size, format) {
  const file = path.join(opt.cache, `${name}.log`);
  const truth = path.join(opt.cache, `${name}.truth.json`);
  if (fs.existsSync(file) && fs.existsSync(truth)) {
    dateLikeALog(file, truth);
    return { file, truth };
  }
  process.stderr.write(`generating ${file} (${size}, ${format}) …\n`);
  const tmp = `${file}.tmp`;
  const out = fs.openSync(tmp, 'w');
  const err = fs.openSync(`${truth}.tmp`, 'w');
  const r = spawnSync(process.execPath, [genlog, '--bytes', size, '--seed', opt.seed, '--format', format], {
    stdio: ['ignore', out, err],
  });
  fs.closeSync(out);
  fs.closeSync(err);
  if (r.status !== 0) throw new Error(`genlog failed for ${name}`);
  JSON.parse(fs.readFileSync(`${truth}.tmp`, 'utf8')); // it must be the summary
  fs.renameSync(`${truth}.tmp`, truth);
  fs.renameSync(tmp, file);
  dateLikeALog(file, truth);
  return { file, truth };
}

function ensureGz(plain) {
  const file = `${plain.file}.gz`;
  const truth = path.join(opt.cache, `${path.basename(plain.file, '.log')}.log.gz.truth.json`);
  if (!fs.existsSync(file)) {
    process.stderr.write(`compressing ${file} …\n`);
    const out = fs.openSync(`${file}.tmp`, 'w');
    const r = spawnSync('gzip', ['-6', '-c', plain.file], { stdio: ['ignore', out, 'inherit'] });
    fs.closeSync(out);
    if (r.status !== 0) throw new Error('gzip failed');
    fs.renameSync(`${file}.tmp`, file);
  }
  if (!fs.existsSync(truth)) fs.copyFileSync(plain.truth, truth);
  dateLikeALog(file, truth, plain.file);
  return { file, truth };
}

// ------------------------------------------------------------------------------------------------ timing

const hasTime = fs.existsSync('/usr/bin/time');

/** Runs the census on `file` (with `extra` arguments), stdout to `outFile`; resolves { seconds, rssKb }. */
function timeCensus(file, outFile, extra = []) {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(outFile, 'w');
    const argv = [process.execPath, cli, 'report', file, '--format', 'json', '--quiet', ...extra];
    const cmd = hasTime ? ['/usr/bin/time', '-f', '%M', ...argv] : argv;
    const start = process.hrtime.bigint();
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let polledKb = 0;
    const poll = hasTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) polledKb = Math.max(polledKb, Number(m[1]));
          } catch {
            // exited
          }
        }, 10);
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (poll) clearInterval(poll);
      fs.closeSync(out);
      if (code !== 0) {
        reject(new Error(`tlscensus exited with ${code}: ${stderr.trim()}`));
        return;
      }
      const rssKb = hasTime ? Number(stderr.trim().split('\n').at(-1)) : polledKb;
      resolve({ seconds, rssKb });
    });
  });
}

function timeShell(script, file) {
  const start = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], {
    env: { ...process.env, F: file },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  if (r.status !== 0) throw new Error(`baseline failed (${r.status}): ${script}`);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function warm(file) {
  spawnSync('bash', ['-c', 'cat "$F" > /dev/null'], { env: { ...process.env, F: file } });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ------------------------------------------------------------------------------------------------ truth

/** genlog's failure reasons → the census's (an unexpected EOF during the handshake is a lost connection). */
const REASONS = {
  lost_connection: 'lost-connection',
  unexpected_eof: 'lost-connection',
  unsupported_protocol: 'unsupported-protocol',
  no_shared_cipher: 'no-shared-cipher',
  alert_unknown_ca: 'certificate',
  wrong_version_number: 'wrong-version-number',
};

function spreadCounts(section, field) {
  const out = {};
  for (const row of section.spread) {
    for (const [cipher, n] of Object.entries(row.spellings)) {
      const k = `${row.protocol} ${cipher}`;
      // Rows of one suite spelled two ways would share unknownClients: genlog logs one spelling per suite.
      out[k] = (out[k] ?? 0) + (field === 'count' ? n : row.unknownClients);
    }
  }
  return out;
}

function sameCounts(label, got, want, problems) {
  const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
  for (const k of keys) {
    if ((got[k] ?? 0) !== (want[k] ?? 0)) problems.push(`${label} ${k}: census ${got[k] ?? 0}, truth ${want[k] ?? 0}`);
  }
}

/** The census's report against genlog's summary; returns the problems found. */
function checkCounts(report, truth) {
  const problems = [];
  const inb = report.inbound;
  const tlsIn = truth.inbound_tls;
  sameCounts('inbound TLS', spreadCounts(inb, 'count'), tlsIn.by_protocol_cipher.incl_unknown, problems);
  // Unknown clients: genlog's `unknown[…]` clients, plus tlsproxy's `[ip]:port` (no name logged at all).
  const unknown = {};
  for (const [k, n] of Object.entries(tlsIn.by_protocol_cipher.incl_unknown)) {
    const u =
      n - (tlsIn.by_protocol_cipher.excl_unknown[k] ?? 0) + (tlsIn.by_service_protocol_cipher.tlsproxy?.[k] ?? 0);
    if (u > 0) unknown[k] = u;
  }
  sameCounts('inbound TLS from unknown clients', spreadCounts(inb, 'unknown'), unknown, problems);
  if (inb.totals.tls !== tlsIn.lines)
    problems.push(`inbound TLS sessions: census ${inb.totals.tls}, truth ${tlsIn.lines}`);
  const reasons = {};
  for (const f of inb.failures) for (const [r, n] of Object.entries(f.reasons)) reasons[r] = (reasons[r] ?? 0) + n;
  const wantReasons = {};
  for (const [r, n] of Object.entries(truth.tls_failures.by_reason)) {
    const ours = REASONS[r] ?? r;
    wantReasons[ours] = (wantReasons[ours] ?? 0) + n;
  }
  sameCounts('inbound failures by reason', reasons, wantReasons, problems);
  if (inb.totals.failed !== truth.tls_failures.sessions) {
    problems.push(`inbound failed sessions: census ${inb.totals.failed}, truth ${truth.tls_failures.sessions}`);
  }
  // genlog's plaintext sessions include connections that sent no command, which the census counts apart.
  const plain = inb.totals.plaintext + inb.totals.noCommand;
  if (plain !== truth.sessions.plaintext) {
    problems.push(
      `inbound plaintext sessions: census ${inb.totals.plaintext} + ${inb.totals.noCommand} without a command, truth ${truth.sessions.plaintext}`,
    );
  }
  const smtpd = inb.totals.sessions - (truth.sessions.tlsproxy ?? 0);
  if (smtpd !== truth.sessions.smtpd)
    problems.push(`inbound smtpd sessions: census ${smtpd}, truth ${truth.sessions.smtpd}`);
  sameCounts('outbound TLS', spreadCounts(report.outbound, 'count'), truth.outbound_tls.by_protocol_cipher, problems);
  if (report.coverage.lines !== truth.lines)
    problems.push(`lines: census ${report.coverage.lines}, truth ${truth.lines}`);
  return problems;
}

// ------------------------------------------------------------------------------------------------ main

const MiB = 1024 * 1024;

async function benchFile(entry) {
  const { file, truth, baseline, history = false, sinceMs = null, untilMs = null, label = '' } = entry;
  const extra = history || sinceMs !== null;
  const bytes = fs.statSync(file).size;
  const outFile = path.join(opt.cache, 'last-report.json');
  warm(file);
  const census = [];
  const base = [];
  let rssKb = 0;
  let problems = null;
  // With --history, a fresh history file each run: what a cron job's first recording costs.
  const historyFile = path.join(opt.cache, 'bench-history.db');
  for (let i = 0; i < opt.runs; i++) {
    if (history)
      for (const f of [historyFile, `${historyFile}-wal`, `${historyFile}-shm`]) fs.rmSync(f, { force: true });
    const args = history ? ['--history', historyFile] : [];
    if (sinceMs !== null) args.push('--since', new Date(sinceMs).toISOString());
    if (untilMs !== null) args.push('--until', new Date(untilMs).toISOString());
    const r = await timeCensus(file, outFile, args);
    census.push(r.seconds);
    rssKb = Math.max(rssKb, r.rssKb);
    if (sinceMs !== null) problems = null;
    else if (problems === null) {
      problems = checkCounts(JSON.parse(fs.readFileSync(outFile, 'utf8')), JSON.parse(fs.readFileSync(truth, 'utf8')));
    }
    base.push(timeShell(baseline === 'gzip' ? GZIP_WC : ONE_LINER, file));
  }
  const seconds = median(census);
  const baseSeconds = median(base);
  // For the .gz, MB/s are of log text (what was counted), like the plain files.
  const textBytes = baseline === 'gzip' ? JSON.parse(fs.readFileSync(truth, 'utf8')).bytes : bytes;
  return {
    name: path.basename(file) + (history ? ' --history' : '') + label,
    extra,
    bytes,
    textBytes,
    seconds,
    mbps: textBytes / MiB / seconds,
    rssMiB: rssKb / 1024,
    baseline: baseline === 'gzip' ? 'gzip -dc | wc -l' : 'grep one-liner',
    baseSeconds,
    ratio: seconds / baseSeconds,
    problems,
    runs: census.length,
  };
}

function cpuName() {
  try {
    const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

async function main() {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build (npm run bench does)`);
  fs.mkdirSync(opt.cache, { recursive: true });
  const files = [];
  const r100 = ensureLog('rfc3164-100M', '100M', 'rfc3164');
  const i100 = ensureLog('iso-100M', '100M', 'iso');
  files.push({ ...r100, baseline: 'grep' }, { ...i100, baseline: 'grep' });
  if (!opt.quick) {
    const r1g = ensureLog('rfc3164-1G', '1G', 'rfc3164');
    const i1g = ensureLog('iso-1G', '1G', 'iso');
    files.push({ ...r1g, baseline: 'grep' }, { ...i1g, baseline: 'grep' }, { ...ensureGz(r1g), baseline: 'gzip' });
    // Not one of issue 3's targets: the cron job that also keeps the history for `tlscensus trend`.
    files.push({ ...r1g, baseline: 'grep', history: true });
    const lastMs = lastLineTime(r1g.file, r1g.truth);
    const day = 24 * 3600 * 1000;
    files.push({ ...r1g, baseline: 'grep', sinceMs: lastMs - day, label: ' --since (last day)' });
    // A day in the middle of the log (11 days): what a report of a past day over weeks of rotated logs costs.
    const middle =
      Math.floor((Date.parse(JSON.parse(fs.readFileSync(r1g.truth, 'utf8')).first_time) + lastMs) / 2 / day) * day;
    files.push({
      ...r1g,
      baseline: 'grep',
      sinceMs: middle,
      untilMs: middle + day,
      label: ' --since/--until (a middle day)',
    });
  }
  const machine = `${cpuName()}, ${os.availableParallelism?.() ?? os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  process.stdout.write(
    `machine: ${machine}\nruns per file: ${opt.runs} (median), alternating with the baseline, warm page cache\n\n`,
  );
  const results = [];
  for (const f of files) {
    process.stderr.write(`timing ${path.basename(f.file)} …\n`);
    const r = await benchFile(f);
    results.push(r);
  }
  const head = '| file | size | tlscensus s | MB/s | peak RSS MiB | baseline | baseline s | ratio |';
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${(r.bytes / MiB).toFixed(0)} MiB | ${r.seconds.toFixed(2)} | ${r.mbps.toFixed(0)} | ${r.rssMiB.toFixed(0)} | ${r.baseline.replaceAll('|', '\\|')} | ${r.baseSeconds.toFixed(2)} | ${r.ratio.toFixed(2)} |`,
  );
  process.stdout.write(`${[head, '|---|---|---|---|---|---|---|---|', ...rows].join('\n')}\n\n`);

  // Targets (issue 3): reported, not enforced.
  for (const r of results) {
    if (r.extra) continue;
    const target = r.baseline === 'grep one-liner' ? 2.0 : 1.3;
    // The .gz row's size is the compressed one: its target is against gzip -dc | wc -l whatever the size.
    const big = r.bytes >= 512 * MiB || r.name.endsWith('.gz');
    if (big) {
      process.stdout.write(
        `target ${r.name}: ratio ${r.ratio.toFixed(2)} ≤ ${target}? ${r.ratio <= target ? 'met' : 'MISSED'}; peak RSS ${r.rssMiB.toFixed(0)} MiB ≤ 128? ${r.rssMiB <= 128 ? 'met' : 'MISSED'}\n`,
      );
    }
  }
  const small = results.find((r) => r.name === 'rfc3164-100M.log');
  const large = results.find((r) => r.name === 'rfc3164-1G.log');
  if (small && large) {
    process.stdout.write(
      `RSS growth 100 MiB → 1 GiB (RFC 3164): ${small.rssMiB.toFixed(0)} → ${large.rssMiB.toFixed(0)} MiB\n`,
    );
  }
  let bad = false;
  for (const r of results) {
    if (r.problems === null) process.stdout.write(`counts ${r.name}: a window, not checked against the whole log's\n`);
    else if (r.problems.length === 0) process.stdout.write(`counts ${r.name}: equal to the generator's ground truth\n`);
    else {
      bad = true;
      process.stdout.write(`counts ${r.name}: WRONG\n  ${r.problems.join('\n  ')}\n`);
    }
  }
  process.exitCode = bad ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.message}\n`);
  process.exitCode = 2;
});

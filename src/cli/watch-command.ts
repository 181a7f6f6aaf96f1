// `tlscensus watch LOG…`: follow mail logs across rotation and export Prometheus counters, over HTTP
// (`--listen`, default 127.0.0.1:9469) or into node_exporter's textfile directory (`--textfile DIR`). Files are
// polled every `--poll`, and at once when inotify reports a rotation in their directory.
// SIGHUP reopens the files; SIGTERM and SIGINT stop cleanly (read what is left, count open sessions, write the
// textfile a last time, close the server).

import fs from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { selectDialects } from '../census/census.js';
import { compileFilter } from '../census/session-filter.js';
import { parseZone } from '../envelope/clock.js';
import { CensusError, EXIT, type ExitCode } from '../model/errors.js';
import type { Session } from '../model/types.js';
import { collectProcessMetrics, TlsMetrics } from '../render/prom.js';
import { forTerminal } from '../render/sanitize.js';
import { LogWatcher } from '../watch/log-watcher.js';
import {
  checkTextfileDir,
  DEFAULT_LISTEN,
  parseListen,
  serveMetrics,
  TEXTFILE_NAME,
  writeTextfile,
} from '../watch/metrics-output.js';
import { parseYear } from './common-options.js';
import { addHistoryOptions, type HistoryFlags, openRecorder } from './history-options.js';
import type { Io } from './io.js';

const FAST_POLL_MS = 20;
const FAST_WINDOW_MS = 2000;

export interface WatchFlags extends HistoryFlags {
  historyInterval: string;
  listen: string;
  textfile?: string;
  interval: string;
  poll: string;
  fromStart?: boolean;
  idleTtl: string;
  direction: string;
  excludeUnknown?: boolean;
  service?: string;
  mta: string;
  year?: string;
  timezone?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export function registerWatch(program: Command, io: Io): void {
  const cmd = program
    .command('watch')
    .description('follow mail logs across rotation and export Prometheus metrics (HTTP or textfile)')
    .argument(
      '<log...>',
      'log files to follow by name (e.g. /var/log/mail.log); a file that does not exist yet is waited for',
    )
    .option('--listen <host:port>', 'serve /metrics on exactly this address', DEFAULT_LISTEN)
    .option(
      '--textfile <dir>',
      `write DIR/${TEXTFILE_NAME} for node_exporter's textfile collector instead of serving HTTP`,
    )
    .option('--interval <duration>', 'how often --textfile is rewritten: 15s, 1m', '15s')
    .option('--poll <duration>', 'how often the files are checked for new lines: 500ms, 1s', '500ms')
    .option('--from-start', 'read the files whole first (default: start at their end)')
    .option(
      '--idle-ttl <duration>',
      'count and forget a connection idle this long (outbound ones log no disconnect)',
      '5m',
    )
    .addOption(
      new Option('--direction <dir>', 'inbound, outbound or both')
        .choices(['in', 'out', 'both', 'inbound', 'outbound'])
        .default('both'),
    )
    .option('--exclude-unknown', 'leave out clients without a verified name (unknown[ip])')
    .option(
      '--service <list>',
      'only these services, comma-separated, as logged (smtpd, submission/smtpd, smtp, …) or by master.cf name (submission)',
    )
    .option('--mta <list>', 'which log dialects to read: auto or a comma-separated list', 'auto')
    .option('--year <year>', 'year for timestamps without one (default: the current year)')
    .option('--timezone <zone>', 'zone of timestamps without one: local (default), UTC, +02:00, Europe/Berlin')
    .option('-q, --quiet', 'no start-up line or warnings on stderr')
    .option('-v, --verbose', 'say on stderr when a file is rotated, truncated or reopened')
    .action(async (logs: string[], flags: WatchFlags) => {
      io.setExit(await runWatch(logs, flags, io));
    });
  addHistoryOptions(cmd).option(
    '--history-interval <duration>',
    'how often closed connections are written into --history: 30s, 1m, 5m',
    '1m',
  );
}

/**
 * watch follows files by name (a file that does not exist yet is waited for): not standard input, a directory or a
 * glob, which it would wait on for ever, silent (a review).
 */
function checkFollowable(logs: readonly string[]): void {
  for (const log of logs) {
    if (log === '-') {
      throw new CensusError('bad-log', 'watch cannot follow standard input', {
        hint: 'name the log file, e.g. tlscensus watch /var/log/mail.log',
      });
    }
    let isDirectory = false;
    try {
      const st = fs.statSync(log);
      isDirectory = st.isDirectory();
      if (!isDirectory && !st.isFile()) {
        // (A named pipe would block the open, and every poll after it, until a writer came: a review.)
        throw new CensusError('bad-log', `watch follows regular files, and ${log} is not one (a pipe or a device)`, {
          hint: 'name the log file syslog writes, e.g. tlscensus watch /var/log/mail.log',
        });
      }
    } catch (e) {
      if (e instanceof CensusError) throw e;
      // not there (yet): waited for, unless it is a pattern
      if (/[*?[]/.test(log)) {
        throw new CensusError('bad-log', `watch follows files by name, not patterns: ${log}`, {
          hint: 'name each log file, e.g. tlscensus watch /var/log/mail.log',
        });
      }
    }
    if (isDirectory) {
      throw new CensusError('bad-log', `watch follows files, and ${log} is a directory`, {
        hint: `name the log file in it, e.g. tlscensus watch ${log.replace(/\/$/, '')}/mail.log`,
      });
    }
  }
}

/** The longest a Node timer waits (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `500ms`, `15s`, `5m`, `1h` → milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(text.trim());
  const ms = m ? Number(m[1]) * ({ ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[m[2] as 'ms' | 's' | 'm' | 'h'] ?? 0) : 0;
  // (At most what a timer can wait: longer, Node fires it at once, and the loop would spin.)
  if (!m || !(ms >= 10) || ms > MAX_TIMER_MS) {
    throw new CensusError('bad-duration', `${flag} ${JSON.stringify(text)} is not a duration`, {
      hint: `use a number and a unit: 500ms, 15s, 5m, 1h (at least 10ms, at most 24 days)`,
    });
  }
  return ms;
}

function splitList(s: string): string[] {
  return s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

export interface WatchHandle {
  /** Resolves with the exit code once stopped. */
  done: Promise<ExitCode>;
  stop: () => void;
  reopen: () => void;
}

export async function runWatch(logs: string[], flags: WatchFlags, io: Io): Promise<ExitCode> {
  const handle = await startWatch(logs, flags, io);
  const onStop = () => handle.stop();
  const onHup = () => handle.reopen();
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  try {
    return await handle.done;
  } finally {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
  }
}

/**
 * The logs named, each file once: the same file named twice, or through a link, would be followed twice and every
 * session counted twice (a review). By device and inode; by absolute path for a file not there yet.
 */
function distinctFiles(logs: readonly string[], warn: (message: string) => void): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const log of logs) {
    let id: string;
    try {
      const st = fs.statSync(log);
      id = `${st.dev}:${st.ino}`;
    } catch {
      id = path.resolve(log);
    }
    const first = seen.get(id);
    if (first !== undefined) {
      warn(`${log} is the same file as ${first}: followed once`);
      continue;
    }
    seen.set(id, log);
    out.push(log);
  }
  return out;
}

export async function startWatch(named: string[], flags: WatchFlags, io: Io): Promise<WatchHandle> {
  checkFollowable(named);
  const logs = distinctFiles(named, (m) => {
    if (!flags.quiet) io.err(`warning: ${forTerminal(m)}`);
  });
  const pollMs = parseDuration('--poll', flags.poll);
  const intervalMs = parseDuration('--interval', flags.interval);
  const idleTtlMs = parseDuration('--idle-ttl', flags.idleTtl);
  const textfile = flags.textfile;
  if (textfile !== undefined) checkTextfileDir(textfile);
  const address = textfile === undefined ? parseListen(flags.listen) : null;
  const year = flags.year !== undefined ? parseYear(flags.year) : null;
  const direction = flags.direction.startsWith('in')
    ? 'inbound'
    : flags.direction.startsWith('out')
      ? 'outbound'
      : 'both';
  const filter = compileFilter({
    direction,
    excludeUnknown: flags.excludeUnknown ?? false,
    services: flags.service ? splitList(flags.service) : null,
  });
  const metrics = new TlsMetrics();
  const quiet = flags.quiet ?? false;
  // The history records every closed session (whatever --direction, --service, --exclude-unknown keep for the
  // metrics): it is written every --history-interval and on exit; a failed write is retried at the next one.
  const historyIntervalMs = parseDuration('--history-interval', flags.historyInterval ?? '1m');
  const recorder = openRecorder(flags, 'watch', logs);
  try {
    recorder?.start();
  } catch (e) {
    recorder?.close();
    throw e;
  }
  // A rotation reported by inotify brings the next poll forward (set once the loop exists).
  let wake = () => {};
  const watcher = new LogWatcher(
    {
      files: logs,
      dialects: selectDialects(splitList(flags.mta)),
      zone: parseZone(flags.timezone),
      year,
      filter,
      ...(recorder ? { onSession: (s: Session) => recorder.add(s) } : {}),
      fromStart: flags.fromStart ?? false,
      idleTtlMs,
      ...(flags.verbose && !quiet ? { onEvent: (m: string) => io.err(`watch: ${forTerminal(m)}`) } : {}),
      onWake: () => wake(),
    },
    metrics,
  );
  let server: Awaited<ReturnType<typeof serveMetrics>> | null = null;
  if (address) {
    // Process metrics (CPU, RSS, open fds, event-loop lag) only over HTTP: in a textfile they would collide with
    // node_exporter's own process_* series.
    collectProcessMetrics(metrics.registry);
    try {
      server = await serveMetrics(metrics, address);
    } catch (e) {
      recorder?.close();
      throw e;
    }
  }
  if (!quiet) {
    const where = address
      ? `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}/metrics`
      : `${textfile}/${TEXTFILE_NAME} every ${flags.interval}`;
    io.err(`tlscensus watch: following ${logs.map(forTerminal).join(', ')}; metrics at ${where}`);
  }

  let stopping = false;
  let pollTimer: NodeJS.Timeout | null = null;
  let fileTimer: NodeJS.Timeout | null = null;
  let historyTimer: NodeJS.Timeout | null = null;
  let lastWarning = '';
  const warn = (e: unknown) => {
    const text = e instanceof Error ? e.message : String(e);
    if (text !== lastWarning && !quiet) io.err(`warning: ${forTerminal(text)}`);
    lastWarning = text;
  };
  // After a wake (inotify saw a rename, or a look found a rotation) poll every FAST_POLL_MS for FAST_WINDOW_MS:
  // rotations come in bursts, and a file rotated twice in a row must be seen before it is compressed.
  let woken = false;
  let fastUntil = 0;
  const loop = () => {
    pollTimer = null;
    woken = false;
    if (stopping) return;
    let more = false;
    try {
      more = watcher.poll();
    } catch (e) {
      warn(e);
    }
    const delay = more ? 0 : Date.now() < fastUntil ? Math.min(pollMs, FAST_POLL_MS) : pollMs;
    pollTimer = setTimeout(loop, delay);
  };
  wake = () => {
    fastUntil = Date.now() + FAST_WINDOW_MS;
    if (stopping || woken || pollTimer === null) return;
    woken = true;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(loop, 0);
  };
  const writeFile = async () => {
    if (textfile === undefined) return;
    try {
      await writeTextfile(metrics, textfile);
    } catch (e) {
      warn(e);
    }
  };
  let resolveDone: (code: ExitCode) => void = () => {};
  const done = new Promise<ExitCode>((resolve) => {
    resolveDone = resolve;
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (pollTimer) clearTimeout(pollTimer);
    if (fileTimer) clearInterval(fileTimer);
    if (historyTimer) clearInterval(historyTimer);
    void (async () => {
      let code: ExitCode = EXIT.ok;
      try {
        watcher.stop();
      } catch (e) {
        warn(e);
      }
      if (recorder) {
        try {
          recorder.finish();
        } catch (e) {
          // The sessions since the last write are lost: say so in the exit code too.
          warn(e);
          code = EXIT.incomplete;
        }
      }
      await writeFile();
      await server?.close();
      resolveDone(code);
    })();
  };
  loop();
  if (textfile !== undefined) {
    await writeFile();
    fileTimer = setInterval(() => void writeFile(), intervalMs);
  }
  if (recorder) {
    historyTimer = setInterval(() => {
      try {
        recorder.flush();
      } catch (e) {
        warn(e);
      }
    }, historyIntervalMs);
  }
  return {
    done,
    stop,
    reopen: () => {
      if (!quiet && flags.verbose) io.err('watch: SIGHUP, reopening the files');
      try {
        watcher.reopen();
      } catch (e) {
        warn(e);
      }
    },
  };
}

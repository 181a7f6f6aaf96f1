// Turns the LOG arguments of the command line into an ordered list of inputs: files, globs,
// directories of rotated logs (oldest first), `-` for stdin, or the system's usual mail log.

import fs from 'node:fs';
import path from 'node:path';
import { CensusError, EXIT } from '../model/errors.js';

export interface InputSpec {
  /** A path, or `-` for standard input. */
  path: string;
  /** File modification time (ms), used to infer the year of RFC 3164 timestamps; null for stdin. */
  mtimeMs: number | null;
  sizeBytes: number | null;
  /**
   * An open descriptor of the file, to read it by instead of the path (read-lines.ts pathToOpen): the range
   * census pins each file once, so that every thread, and a read that falls back, reads the same file even if
   * logrotate renames it meanwhile. Its owner closes it.
   */
  fd?: number;
  /**
   * Read from this line on (a line start, and how many lines precede it): the lines before it are dated before the
   * report's window (census/window-seek.ts). Readers start there unless given a range of their own.
   */
  startAt?: { byte: number; line: number };
  /**
   * The rotation set the file belongs to (its directory and base name, resolveInputs), or null (stdin): the state
   * dialects keep across lines carries over from one file to the next of the same set, never into another set
   * (line-engine.ts `beginSource`).
   */
  rotationSet?: string | null;
  /**
   * Read up to this byte (a line start): the lines from it on are dated long after the report's window
   * (census/window-seek.ts). Readers stop there unless given a range of their own; never set on a .gz.
   */
  endAt?: number;
}

/** The bytes of an input a read covers: from its `startAt` (else 0) to its `endAt` (else null: its end). */
export function readSpan(input: InputSpec): { start: number; end: number | null } {
  return { start: input.startAt?.byte ?? 0, end: input.endAt ?? null };
}

/** How many bytes of a plain file a read covers, by its size when sized (null when it has none). */
export function spanBytes(input: InputSpec): number | null {
  if (input.sizeBytes === null) return null;
  return (input.endAt ?? input.sizeBytes) - (input.startAt?.byte ?? 0);
}

/** Where mail logs usually live (Debian/Ubuntu, RHEL/FreeBSD, Arch with syslog-ng). */
export const DEFAULT_LOG_PATHS = ['/var/log/mail.log', '/var/log/maillog', '/var/log/mail/mail.log'];

/**
 * The inputs the LOG arguments name, in the order one pass reads them. The files of a rotation set are read
 * oldest first however they were named: from one glob or directory, or from several arguments — the shell
 * expands an unquoted `/var/log/mail.log*` into `mail.log mail.log.1 mail.log.2.gz …`, newest first, and read in
 * that order a session that spans a rotation would be split, the fallback detector would see time run backwards,
 * and a range census could not stitch its seams. Each set stands where its first file was named; a file named
 * twice is read once; `-` stays where it is.
 */
export function resolveInputs(args: readonly string[], defaults: readonly string[] = DEFAULT_LOG_PATHS): InputSpec[] {
  if (args.length === 0) return [resolveDefault(defaults)];
  const named: string[] = [];
  for (const arg of args) {
    if (arg === '-') {
      named.push('-');
      continue;
    }
    const matches = hasGlob(arg) ? expandGlob(arg) : [arg];
    if (matches.length === 0) {
      throw new CensusError('no-match', `no file matches ${arg}`, {
        hint: 'check the pattern; quote it so the shell does not expand it first',
        exitCode: EXIT.noInput,
      });
    }
    const files: string[] = [];
    for (const m of matches) {
      const st = statOrThrow(m);
      if (st.isDirectory()) {
        const inDir = fs
          .readdirSync(m)
          .map((name) => path.join(m, name))
          .filter((p) => fs.statSync(p, { throwIfNoEntry: false })?.isFile());
        if (inDir.length === 0) {
          throw new CensusError('empty-directory', `directory ${m} holds no files`, {
            hint: 'name the log files, or the directory that holds the rotated logs',
            exitCode: EXIT.noInput,
          });
        }
        files.push(...inDir);
      } else {
        files.push(m);
      }
    }
    named.push(...orderRotationSet(files));
  }
  const inputs = inReadingOrder(named).map((f): InputSpec => {
    if (f === '-') return { path: '-', mtimeMs: null, sizeBytes: null, rotationSet: null };
    const st = statOrThrow(f);
    return { path: f, mtimeMs: st.mtimeMs, sizeBytes: st.size, rotationSet: rotationSetOf(f) };
  });
  // Not one of the files can be read: a census of nothing would look like a quiet server (and audit would fit
  // the tightest policy to it). One unreadable among others is read around, with a warning (read-lines.ts).
  const files = inputs.filter((i) => i.path !== '-');
  if (files.length > 0 && files.every((i) => !readable(i.path))) throw unreadable(files[0]!.path);
  return inputs;
}

/** Whether this process may read the file (false only when it is denied: other errors surface on reading). */
function readable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.R_OK);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EACCES';
  }
}

function unreadable(p: string): CensusError {
  return new CensusError('unreadable', `cannot read ${p}: permission denied`, {
    hint: 'run as a member of the group that owns the logs (often adm), or with sudo',
    exitCode: EXIT.noInput,
  });
}

/** The file's path with links resolved (two names of one file are one input), or its absolute path. */
function realPath(f: string): string {
  try {
    return fs.realpathSync(f);
  } catch {
    return path.resolve(f);
  }
}

/**
 * Named files grouped by rotation set (the same directory and base name), each set oldest first where its first
 * file was named; a file named again (by any name: the same file once links are resolved) is dropped; `-` kept
 * in place.
 */
function inReadingOrder(named: readonly string[]): string[] {
  const sets = new Map<string, string[]>();
  const order: (string[] | '-')[] = [];
  /** Absolute path → the name it was given by (sets are ordered by absolute paths, shown by given names). */
  const given = new Map<string, string>();
  const files = new Set<string>();
  for (const f of named) {
    if (f === '-') {
      order.push('-');
      continue;
    }
    const real = realPath(f);
    if (files.has(real)) continue;
    files.add(real);
    const resolved = path.resolve(f);
    given.set(resolved, f);
    const base = rotationKey(resolved).base;
    let set = sets.get(base);
    if (set === undefined) {
      set = [];
      sets.set(base, set);
      order.push(set);
    }
    set.push(resolved);
  }
  return order.flatMap((set) => (set === '-' ? ['-'] : orderRotationSet(set).map((r) => given.get(r)!)));
}

function resolveDefault(defaults: readonly string[]): InputSpec {
  let denied: string | null = null;
  for (const p of defaults) {
    try {
      fs.accessSync(p, fs.constants.R_OK);
      const st = fs.statSync(p);
      if (st.isFile()) return { path: p, mtimeMs: st.mtimeMs, sizeBytes: st.size, rotationSet: rotationSetOf(p) };
    } catch (e) {
      // not there or not readable: try the next one
      if ((e as NodeJS.ErrnoException).code === 'EACCES') denied ??= p;
    }
  }
  // (The usual log is there, and this user may not read it: say so, not "name the log".)
  if (denied !== null) throw unreadable(denied);
  throw new CensusError('no-default-log', `no mail log given and none readable at ${defaults.join(', ')}`, {
    hint: 'name the log: tlscensus report /path/to/maillog (or - for stdin, e.g. journalctl -u postfix -o json | tlscensus report -)',
    exitCode: EXIT.noInput,
  });
}

function statOrThrow(p: string): fs.Stats {
  try {
    return fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw unreadable(p);
    throw new CensusError('not-found', `no such file or directory: ${p}`, {
      hint: 'check the path; with no argument tlscensus tries the usual mail log locations',
      exitCode: EXIT.noInput,
    });
  }
}

function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Minimal glob: `*`, `?` and `[...]` within path segments (Node 20 has no fs.glob). */
export function expandGlob(pattern: string): string[] {
  const absolute = path.isAbsolute(pattern);
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let bases = [absolute ? '/' : '.'];
  for (const seg of segments) {
    if (seg === '') continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!hasGlob(seg)) {
        const p = path.join(base, seg);
        if (fs.existsSync(p)) next.push(p);
        continue;
      }
      const re = globSegmentToRegExp(seg);
      let names: string[] = [];
      try {
        names = fs.readdirSync(base);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (name.startsWith('.') && !seg.startsWith('.')) continue;
        if (re.test(name)) next.push(path.join(base, name));
      }
    }
    bases = next;
  }
  return bases.map((p) => (absolute ? p : path.normalize(p)));
}

function globSegmentToRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        let cls = seg.slice(i + 1, close);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

interface RotationKey {
  base: string;
  /** Larger = older. `maillog.3.gz` → 4, `maillog.0` → 1, `maillog` → 0; date suffixes sort by date, oldest first. */
  age: number;
  date: string;
  /** Exchange's file of the day (or hour): `RECV20240301-10.LOG` → 10; the larger, the newer. */
  sequence: number;
}

/**
 * Exchange protocol logs: `RECVyyyymmdd[hh]-n.LOG` (and SEND…), a new file `n` each time one is full
 * (log-formats.md §1); ten or more a day, read as `-1, -10, -2` a session across two files was split (a review).
 */
const EXCHANGE_NAME = /^(.*\D)(\d{8}|\d{10})-(\d{1,6})\.log$/i;

/**
 * logrotate names: `maillog.N[.gz]` (numbered, N older) and `maillog-YYYYMMDD[.gz]` (dateext); Exchange's
 * `RECVyyyymmdd-n.LOG`.
 */
function rotationKey(file: string): RotationKey {
  let name = file.replace(/\.(gz|bz2|xz|zst)$/, '');
  // (After the compression suffix: a compressed day's files are of the set too, a review found them read last.)
  const exchange = EXCHANGE_NAME.exec(name);
  if (exchange) return { base: exchange[1]!, age: 1, date: exchange[2]!, sequence: Number(exchange[3]) };
  let age = 0;
  let date = '';
  const num = /^(.*)\.(\d{1,4})$/.exec(name);
  if (num) {
    name = num[1]!;
    // `.0` is the newest rotated file where numbering starts there (newsyslog, savelog): older than none at all.
    age = Number(num[2]) + 1;
  } else {
    const dated = /^(.*)-(\d{8}|\d{10})$/.exec(name);
    if (dated) {
      name = dated[1]!;
      date = dated[2]!;
      age = 1;
    }
  }
  return { base: name, age, date, sequence: 0 };
}

/** The rotation set of a file: its absolute directory and base name (`/var/log/mail.log` for `mail.log.2.gz`). */
export function rotationSetOf(file: string): string {
  return rotationKey(path.resolve(file)).base;
}

/** Order files so that each rotation set is read oldest first: maillog.3.gz, maillog.2.gz, maillog.1, maillog. */
export function orderRotationSet(files: readonly string[]): string[] {
  const keyed = files.map((f) => ({ f, k: rotationKey(f) }));
  keyed.sort((a, b) => {
    if (a.k.base !== b.k.base) return a.k.base < b.k.base ? -1 : 1;
    if (a.k.date !== b.k.date) {
      if (a.k.date === '') return 1;
      if (b.k.date === '') return -1;
      return a.k.date < b.k.date ? -1 : 1;
    }
    if (a.k.age !== b.k.age) return b.k.age - a.k.age;
    if (a.k.sequence !== b.k.sequence) return a.k.sequence - b.k.sequence;
    return a.f < b.f ? -1 : a.f > b.f ? 1 : 0;
  });
  return keyed.map((x) => x.f);
}

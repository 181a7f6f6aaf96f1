// Follow mode (`tlscensus watch`): one log file followed by name across rotation, never losing or repeating a
// line. State is the open descriptor's identity (dev + inode), the offset read up to, the partial last line
// (LineSplitter's carry) and the last bytes before the offset (a fingerprint of what was read).
//
// - rename + create (logrotate's default, then the syslog daemon reopens): the name points at a new inode. The
//   writer keeps writing to the old descriptor until it reopens, so the old file is drained to EOF first and
//   the switch happens only once the new file has data (a single writer has moved on by then). Files that were
//   rotated through in between (two rotations between polls) are read whole, oldest first.
// - copytruncate: the same inode shrinks (or was rewritten: the fingerprint no longer matches). What was
//   written after the last read went into the copy, so a rotated sibling that holds the fingerprint at the same
//   offset is read from there to its end; then the file is read again from 0. Lines written between logrotate's
//   copy and its truncate are in neither file: that is copytruncate's own, documented, race.
// - a line cut by the rotation: the carry is kept across files, so its two halves become one line.
// Reads are synchronous and bounded per poll (the caller polls again at once when `poll` says there is more),
// so a large backlog never blocks the event loop for long (metrics stay scrapeable).

import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_MAX_LINE_BYTES, type LineSink, LineSplitter } from './read-lines.js';

export interface FollowOptions {
  /** Read the file from its start (default: from its current end; a file that appears later is read whole). */
  fromStart?: boolean;
  maxLineBytes?: number;
  /** Bytes read per poll before yielding (default 8 MiB). */
  budgetBytes?: number;
  /** Called with a one-line description of a rotation or a problem (for `--verbose` logs and tests). */
  onEvent?: (message: string) => void;
}

interface Identity {
  dev: number;
  ino: number;
}

/** A file read to its end. Inodes are reused once a rotated file is deleted: the mtime tells them apart. */
interface DoneFile extends Identity {
  mtimeMs: number;
}

const CHUNK = 1 << 20;
const FINGERPRINT = 64;
const REMEMBERED = 16;

export class FileFollower {
  private fd: number | null = null;
  private id: Identity | null = null;
  private offset = 0;
  private fingerprint: Buffer = Buffer.alloc(0);
  private readonly splitter: LineSplitter;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  /** Inodes already read to the end (the files we rotated away from), so that none is read twice. */
  private readonly done: DoneFile[] = [];
  private readonly budget: number;
  private first = true;
  /** Bytes read since the follower started (for tests and progress). */
  bytesRead = 0;

  constructor(
    readonly file: string,
    sink: LineSink,
    private readonly options: FollowOptions = {},
  ) {
    this.splitter = new LineSplitter(sink, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.budget = options.budgetBytes ?? 8 << 20;
  }

  /**
   * Reads what is new, following rotation. Returns true when it stopped at its byte budget (call again soon),
   * false when it is at the end of the live file.
   */
  poll(): boolean {
    if (this.fd === null && !this.openByName(this.first && !this.options.fromStart)) {
      this.first = false;
      return false;
    }
    this.first = false;
    let budget = this.budget;
    // Before reading on: is what we read still there? (A truncated file that grew back must not be read from
    // the old offset.)
    this.checkTruncation();
    const n = this.drain(budget);
    if (n >= budget) return true;
    budget -= n;
    const st = statOrNull(this.file);
    if (st === null || this.isCurrent(st)) return this.drain(budget) >= budget;
    // The name points at another file: rotated by rename. Switch once the writer has moved on to it.
    if (st.size === 0) return false;
    this.drain(Number.POSITIVE_INFINITY);
    const old = this.id!;
    const oldMtimeMs = fs.fstatSync(this.fd!).mtimeMs;
    const oldFd = this.fd!;
    const oldCarryOffset = this.offset;
    // Open the new file first and take its identity from the descriptor: if it is rotated again meanwhile, it
    // is then one of the intermediates below, not lost.
    this.fd = null;
    if (!this.openByName(false)) {
      this.fd = oldFd;
      this.id = old;
      this.offset = oldCarryOffset;
      return false;
    }
    fs.closeSync(oldFd);
    this.remember({ ...old, mtimeMs: oldMtimeMs });
    this.readIntermediates(old, this.id!, oldMtimeMs);
    this.options.onEvent?.(`${this.file}: rotated (new inode ${this.id!.ino})`);
    return this.drain(budget) >= budget;
  }

  /** SIGHUP: drop the descriptor and open the name again (reading on from the same place if it is the same file). */
  reopen(): void {
    if (this.fd === null) return;
    this.drain(Number.POSITIVE_INFINITY);
    const st = statOrNull(this.file);
    if (st !== null && this.isCurrent(st)) {
      const keep = this.offset;
      this.closeFd();
      if (this.openByName(false)) this.offset = keep;
      return;
    }
    // Moved away: the regular poll handles it as a rotation.
  }

  close(): void {
    this.closeFd();
  }

  /** Opens `file` by name; `atEnd` starts at its current end. False when it does not exist (yet). */
  private openByName(atEnd: boolean): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    const st = fs.fstatSync(fd);
    this.fd = fd;
    this.id = { dev: st.dev, ino: st.ino };
    this.offset = atEnd ? st.size : 0;
    this.fingerprint = atEnd
      ? this.readAt(fd, Math.max(0, st.size - FINGERPRINT), Math.min(FINGERPRINT, st.size))
      : Buffer.alloc(0);
    return true;
  }

  private closeFd(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private isCurrent(st: fs.Stats): boolean {
    return this.id !== null && st.ino === this.id.ino && st.dev === this.id.dev;
  }

  /** Reads the open file from the offset up to `limit` bytes or EOF. Returns the bytes read. */
  private drain(limit: number): number {
    if (this.fd === null) return 0;
    let total = 0;
    while (total < limit) {
      const n = fs.readSync(this.fd, this.buf, 0, Math.min(CHUNK, limit - total), this.offset);
      if (n <= 0) break;
      // Truncated between the check and this read? Then the bytes are from the new content at an old offset:
      // drop them and handle the truncation (what was read before the offset must still be there).
      if (!this.intact()) {
        this.truncated();
        break;
      }
      this.consume(this.buf.subarray(0, n));
      this.offset += n;
      total += n;
    }
    return total;
  }

  private consume(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.splitter.push(chunk);
    this.fingerprint =
      chunk.length >= FINGERPRINT
        ? Buffer.from(chunk.subarray(chunk.length - FINGERPRINT))
        : Buffer.concat([this.fingerprint, chunk]).subarray(-FINGERPRINT);
  }

  /** Same inode, but shorter than what was read, or no longer holding what was read: truncated (copytruncate). */
  private checkTruncation(): void {
    if (!this.intact()) this.truncated();
  }

  private intact(): boolean {
    if (this.fd === null || this.offset === 0) return true;
    const size = fs.fstatSync(this.fd).size;
    const fp = this.fingerprint;
    return size >= this.offset && this.readAt(this.fd, this.offset - fp.length, fp.length).equals(fp);
  }

  private truncated(): void {
    this.recoverFromCopy();
    this.options.onEvent?.(`${this.file}: truncated at ${this.offset} bytes (copytruncate); reading it from the start`);
    this.offset = 0;
    this.fingerprint = Buffer.alloc(0);
    this.drain(Number.POSITIVE_INFINITY);
  }

  /**
   * After a truncation: read what we had not read yet from the copy logrotate made (the sibling holding our
   * fingerprint at our offset), then any copy made after it (truncated twice between two polls), whole.
   */
  private recoverFromCopy(): void {
    const fp = this.fingerprint;
    for (const candidate of this.siblings()) {
      if (candidate.st.size < this.offset || this.isCurrent(candidate.st) || this.isDone(candidate.st)) continue;
      let fd: number;
      try {
        fd = fs.openSync(candidate.path, 'r');
      } catch {
        continue;
      }
      try {
        if (!this.readAt(fd, this.offset - fp.length, fp.length).equals(fp)) continue;
        const n = this.readFd(fd, this.offset);
        this.options.onEvent?.(`${this.file}: read ${n} unread bytes from the copy ${candidate.path}`);
      } finally {
        fs.closeSync(fd);
      }
      this.remember(candidate.st);
      this.readNewerSiblings(candidate.st.mtimeMs, [this.id!]);
      return;
    }
  }

  /** Files rotated through between two polls: newer than the one we followed, not the live one; oldest first. */
  private readIntermediates(old: Identity, live: Identity, oldMtimeMs: number): void {
    this.readNewerSiblings(oldMtimeMs, [old, live]);
  }

  private readNewerSiblings(afterMtimeMs: number, exclude: Identity[]): void {
    const between = this.siblings().filter(
      (c) => !exclude.some((x) => sameId(c.st, x)) && !this.isDone(c.st) && c.st.mtimeMs >= afterMtimeMs,
    );
    between.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs || suffixOf(b.path) - suffixOf(a.path));
    for (const c of between) {
      let fd: number;
      try {
        fd = fs.openSync(c.path, 'r');
      } catch {
        continue;
      }
      try {
        this.readFd(fd, 0);
      } finally {
        fs.closeSync(fd);
      }
      this.remember(c.st);
      this.options.onEvent?.(`${this.file}: read ${c.path} whole (rotated through between two polls)`);
    }
  }

  private readFd(fd: number, from: number): number {
    let pos = from;
    for (;;) {
      const n = fs.readSync(fd, this.buf, 0, CHUNK, pos);
      if (n <= 0) break;
      this.consume(this.buf.subarray(0, n));
      pos += n;
    }
    return pos - from;
  }

  private isDone(st: fs.Stats): boolean {
    return this.done.some((d) => sameId(st, d) && d.mtimeMs === st.mtimeMs);
  }

  /** Uncompressed rotated siblings of the file: `maillog.1`, `maillog-20261120`, newest first. */
  private siblings(): { path: string; st: fs.Stats }[] {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    const out: { path: string; st: fs.Stats }[] = [];
    for (const name of names) {
      if (name === base || !name.startsWith(base) || !/^[.-]\d+$/.test(name.slice(base.length))) continue;
      const p = path.join(dir, name);
      const st = statOrNull(p);
      if (st?.isFile()) out.push({ path: p, st });
    }
    // Newest first; file times are as coarse as the kernel tick, so equal times go by the rotation number
    // (maillog.2 is older than maillog.1).
    return out.sort((a, b) => b.st.mtimeMs - a.st.mtimeMs || suffixOf(a.path) - suffixOf(b.path));
  }

  private remember(f: DoneFile): void {
    this.done.push({ dev: f.dev, ino: f.ino, mtimeMs: f.mtimeMs });
    if (this.done.length > REMEMBERED) this.done.shift();
  }

  private readAt(fd: number, pos: number, length: number): Buffer {
    if (length <= 0 || pos < 0) return Buffer.alloc(0);
    const b = Buffer.alloc(length);
    const n = fs.readSync(fd, b, 0, length, pos);
    return b.subarray(0, n);
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** `maillog.3` → 3, `maillog-20261120` → 20261120. */
function suffixOf(p: string): number {
  return Number(/[.-](\d+)$/.exec(p)?.[1] ?? 0);
}

function sameId(st: Identity, id: Identity): boolean {
  return st.dev === id.dev && st.ino === id.ino;
}

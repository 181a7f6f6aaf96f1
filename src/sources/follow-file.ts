// Follow mode (`tlscensus watch`): one log file followed by name across rotation, never losing or repeating a
// line, however many rotations pass between two looks (rename + create, copytruncate, any mix, a line cut by
// the rotation). No file time is used: files are told apart by identity (dev + inode, held open while that
// matters) and by content (their first bytes and the bytes before an offset, FINGERPRINT = 512 of each).
//
// The model. The rotation set — the file, then its rotated siblings in rotation order (`maillog`, `maillog.1`,
// `maillog.2`…, or `maillog-20261121`, `maillog-20261120`…; compressed ones are never read) — holds the stream as
// consecutive segments, newest first: a rename moves the file's inode under the first rotated name; copytruncate
// copies the file's content there and empties the file, whose inode then holds the next segment. So the rotation
// order is the stream order, in both styles and any mix of them.
//
// State: a queue of open segments (the last one is followed; each has its identity, the offset read to, `head`
// and `tail`), the splitter's partial last line, and the *known* files (read, or older than what was read: inode,
// head, size, last bytes; usually pinned by their descriptor so the inode cannot be reused and one stat knows
// them again). Each poll checks that the followed descriptor still holds what was read (size >= offset, same head
// and tail); when it does not (copytruncate), when the name points at another inode, or while fewer than
// FINGERPRINT bytes of it are known, the poll *looks*:
//   1. Scan: open the name, then the siblings newest first — every `.N` number probed upwards (a concurrent shift
//      moves files up one number at a time, so none gets past the probe, and first sightings come in stream
//      order), dated names from one listing — reading each one's first bytes.
//   2. Settle: if the name was replaced or truncated while the siblings were scanned, a file rotated in meanwhile
//      could be taken for an older one; if a file to be read is still growing, it is a copy being written; if
//      the newest sibling is a copy of what the file holds, logrotate is between its copy and its truncate. Then
//      the scan is done again (descriptors kept), or the look is left to the next poll, and nothing is read:
//      what the file holds may already be a later content.
//   3. Place: the segment being read is the same descriptor when intact, otherwise the copy that holds its head
//      and the bytes before the offset (reading goes on there); a file no longer in the set (compressed, deleted)
//      is read through the descriptor held, with everything unknown in the set newer than it.
//   4. Queue every unknown sibling newer than that, oldest first, then the file. A single writer writes to a newer
//      file only once it is done with the older one (rename + create: until it reopens the name), so a segment
//      is final, and read up to the size the look saw, once a newer one holds data; the newest one holding data
//      is followed. Everything up to it becomes known, so nothing is read twice.
// The partial last line is carried across segments: a line cut by a rotation is one line again.
//
// With `onWake`, inotify on the directory wakes the caller on renames in the rotation set (and a look that found
// a rotation asks for another soon: rotations come in bursts); a very busy directory is not watched between two
// polls past WATCH_EVENTS events, as the events would starve the event loop. Reads are synchronous and bounded per
// poll, so a large backlog never blocks the event loop for long. Memory is bounded: MAX_KNOWN records of about
// 1 KiB, MAX_PINS + MAX_HELD descriptors.
//
// Limits (ARCHITECTURE.md, watch): a segment that is rotated in and then compressed or deleted before a settled
// look cannot be read; lines written between logrotate's copy and its truncate are in no file; rotated files
// moved to another directory (`olddir`) are not found; logrotate's `copy` (a copy without truncate) is read
// twice; two different contents with the same first 512 bytes and the same 512 bytes before an offset are taken
// for the same.

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
  /**
   * Watch the file's directory (inotify through fs.watch) and call this when a name of the rotation set is
   * created, renamed or removed, and after a look that found a rotation: the caller should poll soon (and, as
   * rotations come in bursts, often for a little while). Polling stays the fallback (no inotify, the directory
   * cannot be watched, or too busy to watch).
   */
  onWake?: () => void;
}

/** One file's content as a piece of the stream, read through a descriptor we hold. */
interface Segment {
  fd: number;
  dev: number;
  ino: number;
  /** The name it had when last seen (for messages). */
  name: string;
  offset: number;
  /**
   * The first bytes of the segment as far as known: read, or seen when it was scanned (up to FINGERPRINT). A file
   * that no longer starts with them was truncated, even where nothing of it was read yet.
   */
  head: Buffer;
  /** The bytes just before `offset` (up to FINGERPRINT). */
  tail: Buffer;
  /** Truncated under us while being read: the look that follows finds the copy. */
  broken: boolean;
  /** Where a file that is not the last one to read ends (its size when the look saw it whole). */
  end?: number;
}

/**
 * A file of the rotation set as one look saw it: `rank` 0 is the name itself, larger is older. `fd` is -1 for a
 * pinned known file (recognised by its inode alone: not opened).
 */
interface Entry {
  name: string;
  fd: number;
  dev: number;
  ino: number;
  size: number;
  /** The first min(FINGERPRINT, size) bytes. */
  head: Buffer;
  rank: number;
}

/**
 * A file read (or older than what was read): its size, first bytes and last bytes (before `size`) when it was
 * last seen. Usually held open (`pin`: the descriptor it was read through), so that its inode cannot be reused
 * while it is there and a look knows it from one stat; let go once it is deleted. Beyond MAX_PINS, its inode may
 * be reused once it is deleted: the two windows tell the new file apart (a file too small for them must be
 * pinned to be remembered).
 */
interface Known {
  head: Buffer;
  end: Buffer;
  size: number;
  pin: number | null;
}

const CHUNK = 1 << 20;
/**
 * Bytes compared to tell contents apart (a file's first bytes, the bytes before an offset). Several lines' worth:
 * 64 bytes were too few (epochs that begin with the rest of the same long message compare equal).
 */
const FINGERPRINT = 512;
/** Known files remembered (each about 1 KiB); beyond, the oldest remembered is forgotten. */
const MAX_KNOWN = 1024;
/** Rotated siblings looked at, newest first. */
const MAX_SIBLINGS = 1024;
/** Known files held open (pinned), at most; beyond, they are recognised by their content. */
const MAX_PINS = 256;
/** How often pinned files that were deleted meanwhile are let go (their space freed) without a look. */
const RELEASE_EVERY_MS = 10_000;
/** inotify events taken between two polls before the watch is dropped until the next poll. */
const WATCH_EVENTS = 200;
/** Looks that wait for a copytruncate under way to truncate (see copyUnderway). */
const COPY_WAIT = 3;
/** Descriptors a look keeps between its scans, at most. */
const MAX_HELD = 512;
/** Scans per look when the set changes while it is scanned (then the next poll looks again). */
const LOOK_ATTEMPTS = 3;
/** Looks per poll (a rotation during the read that follows a look gets a second one). */
const MAX_LOOKS = 2;
const EMPTY = Buffer.alloc(0);

export class FileFollower {
  /** Segments to read, oldest first; the last one is followed (it may still grow). */
  private queue: Segment[] = [];
  private readonly known = new Map<string, Known>();
  private readonly splitter: LineSplitter;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private readonly budget: number;
  private readonly dir: string;
  private readonly base: string;
  private started = false;
  private watcher: fs.FSWatcher | null = null;
  private watchFailed = false;
  private watchEvents = 0;
  private pins = 0;
  private copyWait = 0;
  private copyWaitKey = '';
  /** Siblings opened by the scans of a look that is not settled yet, by identity (kept for its next scan). */
  private readonly held = new Map<string, number>();
  private releasedAt = 0;
  /** What the name pointed at during the last look. */
  private lookedAt = '';
  /** Bytes read since the follower started (for tests and progress). */
  bytesRead = 0;
  /** Looks scanned again because the set changed while it was scanned (for tests). */
  retries = 0;
  /** Looks left to the next poll for that reason (for tests). */
  deferred = 0;
  /** The last poll needed a look and could not make it (the set was changing): nothing was read. */
  waiting = false;

  constructor(
    readonly file: string,
    sink: LineSink,
    private readonly options: FollowOptions = {},
  ) {
    this.splitter = new LineSplitter(sink, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    this.budget = options.budgetBytes ?? 8 << 20;
    this.dir = path.dirname(file);
    this.base = path.basename(file);
  }

  /**
   * Reads what is new, following rotation. Returns true when it stopped at its byte budget (call again soon),
   * false when it is at the end of the live file.
   */
  poll(): boolean {
    this.watchDirectory();
    if (Date.now() - this.releasedAt > RELEASE_EVERY_MS) this.releasePins();
    if (!this.started) {
      this.started = true;
      this.start();
    }
    let budget = this.budget;
    let looks = 0;
    this.waiting = false;
    for (;;) {
      if (this.queue.length <= 1 && looks < MAX_LOOKS && this.needsLook()) {
        looks++;
        // Not settled: read nothing before a look has placed us (what the file holds may be a later content).
        if (!this.look()) {
          this.waiting = true;
          return false;
        }
      }
      const seg = this.queue[0];
      if (seg === undefined) return false;
      const n = this.drain(seg, budget);
      budget -= n;
      if (seg.broken && this.queue.length > 1) {
        // Only the followed (last) segment can be the name's inode, so this does not happen; if it did, what
        // was not read of it is in a copy that no look will find.
        this.options.onEvent?.(`${seg.name}: changed under the reader before it was done; the rest is skipped`);
        this.dropFirst();
        continue;
      }
      if (budget <= 0) return true;
      if (this.queue.length > 1) {
        this.dropFirst();
        continue;
      }
      // Rotated (or truncated) while we read: look again, unless the name is still what the last look saw.
      if (
        looks < MAX_LOOKS &&
        (seg.broken || (this.nameMoved(seg) && (looks === 0 || this.pathKey() !== this.lookedAt)))
      ) {
        continue;
      }
      return false;
    }
  }

  /** SIGHUP: open the name again (reading on from the same place when it is still the file being followed). */
  reopen(): void {
    this.watchFailed = false;
    const cur = this.queue[0];
    if (cur === undefined || this.queue.length > 1) return;
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return; // moved away or gone: the next look handles it as a rotation
    }
    const st = fs.fstatSync(fd);
    if (st.dev === cur.dev && st.ino === cur.ino) {
      fs.closeSync(cur.fd);
      cur.fd = fd;
    } else {
      fs.closeSync(fd);
    }
  }

  close(): void {
    for (const seg of this.queue) fs.closeSync(seg.fd);
    this.queue = [];
    for (const fd of this.held.values()) fs.closeSync(fd);
    this.held.clear();
    for (const key of [...this.known.keys()]) this.forget(key);
    this.watcher?.close();
    this.watcher = null;
    this.watchFailed = true;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Start, look, plan

  /** First poll: follow the file from its end (or start); every rotated sibling already there is old. */
  private start(): void {
    const e = this.observe(this.file);
    if (e !== null) {
      const offset = this.options.fromStart ? 0 : e.size;
      this.queue = [this.segmentAt(e, offset)];
    }
    const cur = this.queue[0];
    const entries = this.scan();
    const curRank = cur ? (entries.find((x) => x.dev === cur.dev && x.ino === cur.ino)?.rank ?? 0) : 0;
    for (const x of entries) if (x.rank > curRank) this.remember(x);
    for (const x of entries) this.release(x.fd, `${x.dev}:${x.ino}`);
    this.held.clear(); // their descriptors were just let go
  }

  /** Whether the followed segment may have been rotated away or truncated (or too little is known to tell). */
  private needsLook(): boolean {
    const cur = this.queue[0];
    if (cur === undefined) return true;
    if (this.queue.length > 1) return false;
    // Fewer than FINGERPRINT bytes known of it: too few to be sure it was not truncated and written again: look.
    if (cur.broken || cur.head.length < FINGERPRINT || this.nameMoved(cur)) return true;
    return !this.intact(cur);
  }

  /** The identity of what the name points at now ('-' when nothing). */
  private pathKey(): string {
    const st = statOrNull(this.file);
    return st === null ? '-' : `${st.dev}:${st.ino}`;
  }

  private nameMoved(seg: Segment): boolean {
    const st = statOrNull(this.file);
    return st === null || st.dev !== seg.dev || st.ino !== seg.ino;
  }

  /**
   * Scans the rotation set and queues what follows the segment being read, in stream order. A scan that overlapped
   * a copytruncate (the file truncated since it was opened, or a file to be read still growing: a copy being
   * written) is not acted on: the look is done again, or left to the next poll.
   */
  private look(): boolean {
    const cur = this.queue[0];
    // Checked before the scan: a copy made after this check is seen by the next look, not missed by this one.
    const curIntact = cur !== undefined && !cur.broken && this.intact(cur);
    this.releasePins();
    for (let attempt = 0; attempt < LOOK_ATTEMPTS; attempt++) {
      const entries = this.scan();
      if (this.copyUnderway(entries)) {
        this.dropUnheld(entries);
        break;
      }
      const plan = this.decide(cur, curIntact, entries);
      if (!this.settled(entries, plan.queue)) {
        this.dropUnheld(entries);
        continue;
      }
      this.lookedAt = entries[0]?.rank === 0 ? `${entries[0].dev}:${entries[0].ino}` : '-';
      for (const e of plan.remember) this.remember(e);
      // Every descriptor the look opened or kept goes to the queue, becomes a pin, or is closed.
      const used = new Set(plan.queue.map((q) => q.seg.fd));
      const opened = new Map<number, string>();
      for (const e of entries) if (e.fd >= 0) opened.set(e.fd, `${e.dev}:${e.ino}`);
      for (const [key, fd] of this.held) opened.set(fd, key);
      this.held.clear();
      for (const [fd, key] of opened) if (!used.has(fd)) this.release(fd, key);
      if (cur !== undefined && !used.has(cur.fd)) this.release(cur.fd, `${cur.dev}:${cur.ino}`);
      this.queue = plan.queue.map((q, i) =>
        i < plan.queue.length - 1 && q.entry !== undefined ? { ...q.seg, end: q.entry.size } : q.seg,
      );
      // Nothing read of the followed file yet: what this look saw of it is what reading must find there.
      const followed = plan.queue[plan.queue.length - 1];
      if (followed?.entry !== undefined && followed.seg.offset === 0 && followed.seg.head.length === 0) {
        followed.seg.head = followed.entry.head;
      }
      for (const m of plan.events) this.options.onEvent?.(m);
      // Rotations tend to come in bursts: ask the caller to look again soon.
      if (plan.rotated) this.options.onWake?.();
      return true;
    }
    this.deferred++;
    this.options.onWake?.(); // the set is changing under us: look again soon
    return false;
  }

  /** After a scan that is not acted on: close what it opened, except what the look keeps for its next scan. */
  private dropUnheld(entries: Entry[]): void {
    const kept = new Set(this.held.values());
    for (const e of entries) if (e.fd >= 0 && !kept.has(e.fd)) fs.closeSync(e.fd);
  }

  /**
   * Is logrotate copying the file right now (copytruncate, before its truncate)? Then the newest rotated file is
   * a copy of what the file holds (its first bytes, and its last bytes at the same place), and reading both would
   * read that twice: the look waits for the truncate, after which the copy is an older file like any other. A
   * rotated file that stays such a copy for COPY_WAIT looks is taken as one whose content happens to begin like
   * the file's (a very short one can).
   */
  private copyUnderway(entries: Entry[]): boolean {
    const named = entries[0]?.rank === 0 ? entries[0] : undefined;
    const newest = entries.find((e) => e.rank > 0);
    if (named === undefined || newest === undefined || newest.size === 0 || !this.isCopyOf(newest, named.fd)) {
      this.copyWait = 0;
      return false;
    }
    const key = `${newest.dev}:${newest.ino}:${newest.size}`;
    if (key !== this.copyWaitKey) {
      this.copyWaitKey = key;
      this.copyWait = 0;
    }
    return ++this.copyWait <= COPY_WAIT;
  }

  /** Steps 2-4 of a look, without side effects: what to read, in order, and what becomes known. */
  private decide(
    cur: Segment | undefined,
    curIntact: boolean,
    entries: Entry[],
  ): { queue: { seg: Segment; entry: Entry | undefined }[]; remember: Entry[]; events: string[]; rotated: boolean } {
    const events: string[] = [];
    const curEntry = cur ? entries.find((e) => e.dev === cur.dev && e.ino === cur.ino) : undefined;
    const oldestFirst = [...entries].sort((a, b) => b.rank - a.rank);
    const unknown = (e: Entry) => !this.isKnown(e);

    // 2. Where the segment being read is now.
    let anchor: Segment | null = null;
    let anchorRank = Number.POSITIVE_INFINITY; // not in the set: older than all of it
    let anchorEntry: Entry | undefined;
    if (cur !== undefined && curIntact) {
      anchor = cur;
      if (curEntry !== undefined) {
        anchorRank = curEntry.rank;
        anchorEntry = curEntry;
        // A copy of what we read, arrived behind the file since the last look: the file was truncated after all
        // (the file alone cannot tell when little or nothing of it was read: a few first bytes may come again). A
        // copy still being made was waited for (copyUnderway).
        const copy = oldestFirst.find(
          (e) => e.rank > curEntry.rank && unknown(e) && e.size > 0 && this.matches(e, cur) === 'full',
        );
        if (copy !== undefined) {
          anchor = this.continueIn(copy, cur);
          anchorRank = copy.rank;
          anchorEntry = copy;
        }
      }
    } else if (cur !== undefined) {
      const mine = oldestFirst.filter((e) => unknown(e) && !(e.dev === cur.dev && e.ino === cur.ino));
      const copy =
        mine.find((e) => this.matches(e, cur) === 'full') ??
        mine.filter((e) => this.matches(e, cur) === 'short').sort((a, b) => b.size - a.size)[0];
      if (copy !== undefined) {
        anchor = this.continueIn(copy, cur);
        anchorRank = copy.rank;
        anchorEntry = copy;
        events.push(
          `${this.file}: truncated (copytruncate); reading the ${Math.max(0, copy.size - cur.offset)} bytes not read yet from the copy ${copy.name}`,
        );
      } else if (cur.offset > 0 || cur.head.length > 0) {
        events.push(
          `${this.file}: truncated, and no rotated copy holds what followed byte ${cur.offset}: lines may be lost`,
        );
      }
    }

    // 3. What follows it, oldest first.
    const plan: { seg: Segment; size: number; entry: Entry | undefined }[] = [];
    if (anchor !== null) plan.push({ seg: anchor, size: this.sizeOf(anchor), entry: anchorEntry });
    if (cur !== undefined && anchor !== cur && curEntry === undefined) {
      // Truncated, then moved out of the set: what it holds now follows the copy (or is all we have).
      const fresh = this.freshSegment(cur);
      plan.push({ seg: fresh, size: this.sizeOf(fresh), entry: undefined });
    }
    for (const e of oldestFirst) {
      if (e.rank >= anchorRank || e === anchorEntry || !unknown(e)) continue;
      if (anchor === cur && e === curEntry) continue;
      plan.push({ seg: this.segmentAt(e, 0), size: e.size, entry: e });
    }

    // 4. Read through the newest segment that holds data; newer, empty ones are looked at again next time.
    let last = plan.length - 1;
    while (last > 0 && plan[last]!.size === 0) last--;
    if (anchor === null && last === 0 && plan.length > 0 && plan[0]!.size === 0) last = plan.length - 1;
    const queue = plan.slice(0, last + 1);
    const followedRank = queue[queue.length - 1]?.entry?.rank ?? Number.POSITIVE_INFINITY;
    const remember = entries.filter((e) => e.rank > followedRank);
    const next = queue.slice(anchor !== null ? 1 : 0).map((p) => p.seg.name);
    if (next.length > 0 && cur !== undefined) events.push(`${this.file}: rotated; reading ${next.join(', ')}`);
    return { queue, remember, events, rotated: next.length > 0 };
  }

  /**
   * Did the set hold still while it was scanned? The name's file not truncated since it was opened, and every
   * file to be read before the last one no longer growing (a copy being written has not been seen whole).
   */
  private settled(entries: Entry[], queue: { seg: Segment; entry: Entry | undefined }[]): boolean {
    const named = entries[0]?.rank === 0 ? entries[0] : undefined;
    // Still the same file by that name: nothing was rotated in while the siblings were scanned (a file rotated in
    // meanwhile would have been taken for an older one).
    const now = statOrNull(this.file);
    if (now === null ? named !== undefined : named === undefined || now.dev !== named.dev || now.ino !== named.ino) {
      this.retries++;
      return false;
    }
    if (named !== undefined) {
      if (fs.fstatSync(named.fd).size < named.size || !this.readAt(named.fd, 0, named.head.length).equals(named.head)) {
        this.retries++;
        return false;
      }
    }
    for (const q of queue.slice(0, -1)) {
      if (q.entry !== undefined && fs.fstatSync(q.entry.fd).size !== q.entry.size) {
        this.retries++;
        return false;
      }
    }
    return true;
  }

  /** Reading goes on in the copy of the segment, from where we were. */
  private continueIn(copy: Entry, cur: Segment): Segment {
    const offset = Math.min(cur.offset, copy.size);
    return {
      fd: copy.fd,
      dev: copy.dev,
      ino: copy.ino,
      name: copy.name,
      offset,
      head: copy.head.length > cur.head.length ? copy.head : cur.head,
      tail: offset === cur.offset ? cur.tail : this.readAt(copy.fd, Math.max(0, offset - FINGERPRINT), FINGERPRINT),
      broken: false,
    };
  }

  /** The descriptor of a truncated file that left the set: read what it holds now from its start. */
  private freshSegment(cur: Segment): Segment {
    return { ...cur, offset: 0, head: this.readAt(cur.fd, 0, FINGERPRINT), tail: EMPTY, broken: false };
  }

  private segmentAt(e: Entry, offset: number): Segment {
    return {
      fd: e.fd,
      dev: e.dev,
      ino: e.ino,
      name: e.name,
      offset,
      head: e.head,
      tail: offset === 0 ? EMPTY : this.readAt(e.fd, Math.max(0, offset - FINGERPRINT), Math.min(offset, FINGERPRINT)),
      broken: false,
    };
  }

  /**
   * Does `e` hold the segment `seg` was reading? `full`: same first bytes and same bytes before the offset;
   * `short`: same first bytes but shorter than what was read (read from the file between logrotate's copy and
   * its truncate: nothing of it is left to read).
   */
  private matches(e: Entry, seg: Segment): 'full' | 'short' | false {
    if (e.size < seg.head.length || !e.head.subarray(0, seg.head.length).equals(seg.head)) return false;
    if (e.size < seg.offset) return seg.offset > 0 ? 'short' : false;
    return this.readAt(e.fd, seg.offset - seg.tail.length, seg.tail.length).equals(seg.tail) ? 'full' : false;
  }

  /**
   * Is `e` a copy of what the descriptor holds now (its first bytes, and its last bytes at the same place)? Then
   * the file was not truncated after the copy was made (logrotate's `copy`, or a copy being written).
   */
  private isCopyOf(e: Entry, fd: number): boolean {
    if (e.fd < 0 || fs.fstatSync(fd).size < e.size) return false;
    if (!this.readAt(fd, 0, e.head.length).equals(e.head)) return false;
    const n = Math.min(e.size, FINGERPRINT);
    return this.readAt(fd, e.size - n, n).equals(this.readAt(e.fd, e.size - n, n));
  }

  /**
   * Same inode, same first bytes, same bytes before the size it had (it may have grown since: a file the writer
   * was still on); a file smaller than FINGERPRINT must have the same size (and is held open).
   */
  private isKnown(e: Entry): boolean {
    if (e.fd < 0) return true; // pinned: that inode is the file remembered
    const k = this.known.get(`${e.dev}:${e.ino}`);
    if (k === undefined || !e.head.subarray(0, k.head.length).equals(k.head)) return false;
    if (k.head.length < FINGERPRINT) return e.size === k.size;
    return e.size >= k.size && this.readAt(e.fd, k.size - k.end.length, k.end.length).equals(k.end);
  }

  /** Remembers a file as read (or old). Its pin is given by `release` when its descriptor is let go. */
  private remember(e: Entry): void {
    if (e.size === 0 || e.fd < 0) return; // empty: nothing to read twice (an empty file that grows is new)
    const key = `${e.dev}:${e.ino}`;
    const old = this.known.get(key);
    this.known.delete(key);
    const end = this.readAt(e.fd, Math.max(0, e.size - FINGERPRINT), Math.min(e.size, FINGERPRINT));
    this.known.set(key, { head: Buffer.from(e.head), end, size: e.size, pin: old?.pin ?? null });
    if (this.known.size > MAX_KNOWN) this.forget(this.known.keys().next().value!);
  }

  /**
   * Lets go of a descriptor: it becomes the pin of the file's record when that has none (and there is room),
   * otherwise it is closed. A small file that could not be pinned is not remembered (it may be read again, never
   * skipped).
   */
  private release(fd: number, key: string): void {
    if (fd < 0) return;
    const k = this.known.get(key);
    if (k !== undefined && k.pin === null && this.pins < MAX_PINS) {
      k.pin = fd;
      this.pins++;
      return;
    }
    if (k?.pin !== fd) fs.closeSync(fd);
    if (k !== undefined && k.pin === null && k.head.length < FINGERPRINT) this.known.delete(key);
  }

  private forget(key: string): void {
    const k = this.known.get(key);
    if (k?.pin != null) {
      fs.closeSync(k.pin);
      this.pins--;
    }
    this.known.delete(key);
  }

  /** Pinned files that were deleted (or compressed) are let go: their space is freed, their inodes may be reused. */
  private releasePins(): void {
    this.releasedAt = Date.now();
    if (this.pins === 0) return;
    for (const [key, k] of this.known) if (k.pin !== null && fs.fstatSync(k.pin).nlink === 0) this.forget(key);
  }

  private dropFirst(): void {
    const seg = this.queue.shift()!;
    this.release(seg.fd, `${seg.dev}:${seg.ino}`);
  }

  // ------------------------------------------------------------------------------------------------------------
  // The rotation set

  /**
   * Opens the name, then the rotated siblings newest first, each once (by identity); `rank` is the order of first
   * sighting, and it is the stream order even while the set is being rotated: `.N` files only ever move up one
   * number at a time, so probing every number upwards (not only the names one listing returned: a shift in
   * progress leaves gaps) meets each file that was there when the name was opened — a file can no more get past
   * the probe than the probe can skip it. What is rotated after the name was opened is for the next look. Dated
   * names do not move; they are listed newest first.
   */
  private scan(): Entry[] {
    const out: Entry[] = [];
    const seen = new Set<string>();
    let rank = 0; // the name is 0 even when missing; siblings from 1
    const add = (p: string, sibling = true) => {
      const r = rank++;
      const e = sibling ? this.observeSibling(p) : this.observe(p);
      if (e === null) return;
      const key = `${e.dev}:${e.ino}`;
      const held = this.held.get(key) === e.fd;
      if (seen.has(key)) {
        if (e.fd >= 0 && !held) fs.closeSync(e.fd);
        return;
      }
      seen.add(key);
      if (sibling && e.fd >= 0 && !held && this.held.size < MAX_HELD) this.held.set(key, e.fd);
      e.rank = r;
      out.push(e);
    };
    add(this.file, false);
    const numbered = (names: { name: string; key: SuffixKey }[]) =>
      names.filter((s) => !s.key.dated).map((s) => Number(s.key.groups[0]));
    let names = this.siblingNames();
    let n = Math.min(1, ...numbered(names));
    let top = Math.max(0, ...numbered(names));
    const done = new Set<string>();
    for (let round = 0; round < 4 && n <= top; round++) {
      for (; n <= top && done.size < MAX_SIBLINGS; n++) {
        done.add(`${this.base}.${n}`);
        add(`${this.file}.${n}`);
      }
      names = this.siblingNames();
      top = Math.max(top, ...numbered(names));
    }
    // Names that are not `${base}.${n}` exactly (dated, zero-padded), oldest last; listed again for older ones.
    let oldest: SuffixKey | null = null;
    for (let round = 0; round < 4; round++) {
      const todo = names.filter(
        (s) =>
          !done.has(s.name) &&
          (s.key.dated || `${this.base}.${s.key.groups[0]}` !== s.name) &&
          (oldest === null || compareSuffix(s.key, oldest) > 0),
      );
      if (todo.length === 0) break;
      for (const s of todo) {
        if (done.size >= MAX_SIBLINGS) break;
        done.add(s.name);
        add(path.join(this.dir, s.name));
        oldest = s.key;
      }
      names = this.siblingNames();
    }
    return out;
  }

  /** Uncompressed rotated siblings of the file, newest first: `maillog.1`, `maillog.2`; `maillog-20261121`, … */
  private siblingNames(): { name: string; key: SuffixKey }[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: { name: string; key: SuffixKey }[] = [];
    for (const name of names) {
      if (name.length <= this.base.length || !name.startsWith(this.base)) continue;
      const key = suffixKey(name.slice(this.base.length));
      if (key !== null) out.push({ name, key });
    }
    return out.sort((a, b) => compareSuffix(a.key, b.key));
  }

  /** A sibling: a pinned known file is recognised from one stat; any other is opened. */
  private observeSibling(p: string): Entry | null {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p, { throwIfNoEntry: false });
    } catch {
      return null;
    }
    if (st === undefined || !st.isFile()) return null;
    const key = `${st.dev}:${st.ino}`;
    const k = this.known.get(key);
    if (k?.pin != null && st.size >= k.size) {
      return { name: p, fd: -1, dev: st.dev, ino: st.ino, size: st.size, head: k.head, rank: 0 };
    }
    const held = this.held.get(key);
    if (held !== undefined) {
      // Opened by an earlier scan of this look: the descriptor holds that inode, only its size may have moved.
      const size = Math.max(st.size, fs.fstatSync(held).size);
      const head = this.readAt(held, 0, Math.min(FINGERPRINT, size));
      return { name: p, fd: held, dev: st.dev, ino: st.ino, size: Math.max(size, head.length), head, rank: 0 };
    }
    return this.observe(p);
  }

  /** Opens a regular file and reads its first bytes; null when it is gone (or not readable, not a file). */
  private observe(p: string): Entry | null {
    let fd: number;
    try {
      fd = fs.openSync(p, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.options.onEvent?.(`${p}: cannot open (${code})`);
      return null;
    }
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      fs.closeSync(fd);
      return null;
    }
    const head = this.readAt(fd, 0, Math.min(FINGERPRINT, st.size));
    return { name: p, fd, dev: st.dev, ino: st.ino, size: Math.max(st.size, head.length), head, rank: 0 };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Reading

  /** Reads a segment from its offset up to `limit` bytes or EOF. Returns the bytes read. */
  private drain(seg: Segment, budget: number): number {
    // A file of which nothing is known (not a byte read or seen) is not read blind: it may have been copied and
    // truncated since; the next look records its first bytes.
    if (seg.offset === 0 && seg.head.length === 0 && seg.end === undefined) return 0;
    const limit = seg.end === undefined ? budget : Math.min(budget, seg.end - seg.offset);
    let total = 0;
    while (total < limit && !seg.broken) {
      const n = fs.readSync(seg.fd, this.buf, 0, Math.min(CHUNK, limit - total), seg.offset);
      if (n <= 0) break;
      // Truncated between the last check and this read? Then these bytes are new content at an old offset:
      // drop them; the look that follows reads on from the copy.
      if (!this.intact(seg)) {
        seg.broken = true;
        break;
      }
      this.consume(seg, this.buf.subarray(0, n));
      total += n;
    }
    return total;
  }

  private consume(seg: Segment, chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.splitter.push(chunk);
    if (seg.head.length < FINGERPRINT && seg.offset + chunk.length > seg.head.length) {
      const from = seg.head.length - seg.offset;
      seg.head = Buffer.concat([seg.head, chunk.subarray(from, from + FINGERPRINT - seg.head.length)]);
    }
    seg.tail =
      chunk.length >= FINGERPRINT
        ? Buffer.from(chunk.subarray(chunk.length - FINGERPRINT))
        : Buffer.concat([seg.tail, chunk]).subarray(-FINGERPRINT);
    seg.offset += chunk.length;
  }

  /** Does the descriptor still hold what was read from it (not truncated, not rewritten)? */
  private intact(seg: Segment): boolean {
    if (seg.offset === 0 && seg.head.length === 0) return true;
    if (fs.fstatSync(seg.fd).size < seg.offset) return false;
    return (
      this.readAt(seg.fd, 0, seg.head.length).equals(seg.head) &&
      this.readAt(seg.fd, seg.offset - seg.tail.length, seg.tail.length).equals(seg.tail)
    );
  }

  private sizeOf(seg: Segment): number {
    return fs.fstatSync(seg.fd).size;
  }

  private readAt(fd: number, pos: number, length: number): Buffer {
    if (length <= 0 || pos < 0) return EMPTY;
    const b = Buffer.alloc(length);
    const n = fs.readSync(fd, b, 0, length, pos);
    return b.subarray(0, n);
  }

  // ------------------------------------------------------------------------------------------------------------
  // inotify

  /**
   * inotify on the directory. Every append to the log is an event too, and libuv reads events for as long as
   * there are any: a very busy log would starve the event loop. So past WATCH_EVENTS events between two polls the
   * watch is dropped, and set again at the next poll (polling, quickened by the caller after a wake, covers it).
   */
  private watchDirectory(): void {
    this.watchEvents = 0;
    const wake = this.options.onWake;
    if (wake === undefined || this.watcher !== null || this.watchFailed) return;
    try {
      const w = fs.watch(this.dir, { persistent: false }, (type, name) => {
        const n = name === null || name === undefined ? null : String(name);
        if (
          n === null ||
          (n === this.base ? type === 'rename' : n.startsWith(this.base) && isRotationName(n.slice(this.base.length)))
        ) {
          wake();
        }
        if (++this.watchEvents > WATCH_EVENTS && this.watcher === w) {
          w.close();
          this.watcher = null;
        }
      });
      w.on('error', (e) => {
        w.close();
        if (this.watcher === w) this.watcher = null;
        this.options.onEvent?.(`${this.dir}: inotify watch ended (${e.message}); polling`);
      });
      this.watcher = w;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A directory that does not exist yet is watched once it does; any other failure falls back to polling.
      if (code !== 'ENOENT') {
        this.watchFailed = true;
        this.options.onEvent?.(`${this.dir}: cannot watch (${code ?? e}); polling only`);
      }
    }
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/**
 * A rotated name's order: `.N` (N up to 6 digits: logrotate's count, smaller is newer) or a date-like suffix
 * (`-20261120`, `-2026-11-20`, `.20261120`, `-20261120-1763600000`: digit groups, larger is newer). A set that
 * mixes both is taken to have its `.N` files newer.
 */
interface SuffixKey {
  dated: boolean;
  groups: string[];
}

const COMPRESSED = /\.(gz|xz|bz2|zst|lz4|lzma|lzo|Z|z)$/;

function suffixKey(suffix: string): SuffixKey | null {
  const n = /^\.(\d{1,6})$/.exec(suffix);
  if (n) return { dated: false, groups: [String(Number(n[1]))] };
  if (!/^[-_.]\d(?:[\d._-]*\d)?$/.test(suffix)) return null;
  return { dated: true, groups: suffix.match(/\d+/g)!.map((g) => g.replace(/^0+(?=\d)/, '')) };
}

function isRotationName(suffix: string): boolean {
  return suffixKey(suffix.replace(COMPRESSED, '')) !== null;
}

/** Negative when `a` is newer than `b`. */
function compareSuffix(a: SuffixKey, b: SuffixKey): number {
  if (a.dated !== b.dated) return a.dated ? 1 : -1;
  const sign = a.dated ? -1 : 1;
  const len = Math.max(a.groups.length, b.groups.length);
  for (let i = 0; i < len; i++) {
    const x = a.groups[i] ?? '';
    const y = b.groups[i] ?? '';
    if (x.length !== y.length) return sign * (x.length - y.length);
    if (x !== y) return sign * (x < y ? -1 : 1);
  }
  return 0;
}

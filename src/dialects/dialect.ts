// What a dialect is (DESIGN.md §4): one file per MTA that claims program names, says cheaply which
// lines may matter, and interprets an Envelope into Observations. `interpret` never throws.

import type { Envelope, Observation } from '../model/types.js';

/** `interpret` result for a line that looked relevant but did not parse. */
export const MALFORMED = 'malformed' as const;

/**
 * Interprets one line. Returns observations (the line is an `event`), an empty array or null (claimed
 * but not TLS-relevant: `unrecognized`), or MALFORMED. May keep state across the lines of one input.
 */
export type Interpreter = (env: Envelope) => Observation[] | null | typeof MALFORMED;

export interface Dialect {
  /** The id used everywhere: file name, fixture name, `--mta` value, JSON `mta` field, metric label. */
  readonly id: string;
  /** Human name for reports. */
  readonly name: string;
  /** Does this dialect own lines written by this program tag (e.g. `postfix/submission/smtpd`)? */
  claims(program: string): boolean;
  /**
   * ASCII substrings of which at least one occurs in every line `interpret` can turn into an event.
   * Lines with none are `unrecognized` without being decoded (the hot-path prefilter, DESIGN.md §3).
   */
  readonly keywords: readonly string[];
  /**
   * Optional, for speed: the keywords that matter for lines of one program (a daemon that never logs anything
   * `interpret` uses gets none, and its lines are `unrecognized` at once). Same promise as `keywords`.
   */
  keywordsFor?(program: string): readonly string[];
  /**
   * Optional, for speed: a byte test of a message (buf[start, end)) of this program that answers, where it can,
   * whether the message holds one of the program's keywords: `HOLDS` (the keyword search is skipped), `HOLDS_NONE`
   * (the line is unrecognized at once) or `UNSURE` (the search decides). It may also answer `NO_EVENT` for a
   * message the interpreter is known to make nothing of (neither an observation nor malformed), keywords or
   * not: unrecognized at once too. Null: no test.
   */
  keywordTestFor?(program: string): KeywordTest | null;
  /**
   * True when the interpreter keeps no state from line to line, so that any line can be interpreted without the
   * lines before it: worker threads then interpret byte ranges of a file. Otherwise the dialect's lines are
   * interpreted on the main thread, in order.
   */
  readonly stateless?: boolean;
  /** A fresh interpreter (state, if any, is per input). */
  createInterpreter(): Interpreter;
}

/** What a KeywordTest answers. */
export const HOLDS = 1;
export const HOLDS_NONE = 0;
export const UNSURE = -1;
export const NO_EVENT = 2;
export type KeywordTest = (buf: Buffer, start: number, end: number) => number;

/**
 * For `keywordTestFor`: whether the message holds `keyword`, by a byte loop over the message only. A native
 * `indexOf` from the line on costs a call and may run far past the line (a keyword whose first letter is common,
 * like `rip=` or `status=`, stops it at every `r` or `s`); a message is a hundred bytes or so. The loop is
 * Boyer–Moore–Horspool's: it looks at the byte under the keyword's last letter and, when that byte is not in the
 * keyword, jumps the keyword's whole length (most bytes of a message are not in `status=`).
 */
export function messageHolds(keyword: string): (buf: Buffer, start: number, end: number) => boolean {
  const k = Buffer.from(keyword, 'latin1');
  const n = k.length;
  const lastByte = k[n - 1]!;
  // How far the keyword may move when the byte under its end is `c`: to line its rightmost earlier `c` up.
  const skip = new Uint8Array(256).fill(Math.min(n, 255));
  for (let j = 0; j < n - 1; j++) skip[k[j]!] = Math.min(n - 1 - j, 255);
  return (buf, start, end) => {
    for (let i = start + n - 1; i < end; ) {
      const c = buf[i]!;
      if (c === lastByte) {
        let j = n - 2;
        while (j >= 0 && buf[i - (n - 1) + j] === k[j]) j--;
        if (j < 0) return true;
      }
      i += skip[c]!;
    }
    return false;
  };
}

/** An alphanumeric ASCII byte (the byte readers of the dialects and the line engine). */
export function isAlnumByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122));
}

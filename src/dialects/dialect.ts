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
   * (the line is unrecognized at once) or `UNSURE` (the search decides). Null: no test.
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
export type KeywordTest = (buf: Buffer, start: number, end: number) => number;

/**
 * For `keywordTestFor`: whether the message holds `keyword`, by a plain byte loop over the message only. A native
 * `indexOf` from the line on costs a call and may run far past the line (a keyword whose first letter is common,
 * like `rip=` or `status=`, stops it at every `r` or `s`); a message is a hundred bytes or so.
 */
export function messageHolds(keyword: string): (buf: Buffer, start: number, end: number) => boolean {
  const k = Buffer.from(keyword, 'latin1');
  const first = k[0]!;
  const n = k.length;
  return (buf, start, end) => {
    const last = end - n;
    for (let i = start; i <= last; i++) {
      if (buf[i] !== first) continue;
      let j = 1;
      while (j < n && buf[i + j] === k[j]) j++;
      if (j === n) return true;
    }
    return false;
  };
}

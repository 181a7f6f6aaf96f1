// Rating arithmetic shared by the name lookup, the GnuTLS description parser and the Schannel mapper.
// Order and wording: ../shared/data/README.md §2 (ciphersuite.info's four classes); see docs/ratings.md.

import type { Rating } from '../model/types.js';
import type { CipherSuite } from './suites.generated.js';

/** Lower is worse. `unknown` has no rank: it is "no information", not a grade. */
const RANK: Readonly<Record<Exclude<Rating, 'unknown'>, number>> = { insecure: 0, weak: 1, secure: 2, recommended: 3 };

/**
 * The worse of two ratings (insecure < weak < secure < recommended). `unknown` carries no information, so when
 * one side is unknown the other side wins; both unknown → unknown.
 */
export function worseRating(a: Rating, b: Rating): Rating {
  if (a === 'unknown') return b;
  if (b === 'unknown') return a;
  return RANK[a] <= RANK[b] ? a : b;
}

/**
 * When a log line leaves the authentication open (no signature in a GnuTLS description, Schannel never says),
 * data/README.md §3.2 and §4.3 say to report the candidate with the lower rating. Among equals prefer RSA: it is
 * by far the most common certificate type on mail servers, and it keeps the choice deterministic.
 */
const AUTH_PREFERENCE: readonly string[] = ['RSA', 'ECDSA', 'DSS', 'PSK'];

function authRank(auth: string): number {
  const i = AUTH_PREFERENCE.indexOf(auth);
  return i === -1 ? AUTH_PREFERENCE.length : i;
}

/** Worst rating first, then preferred authentication, then table (code point) order. Returns a new array. */
export function sortWorstFirst(candidates: readonly CipherSuite[]): CipherSuite[] {
  return candidates
    .map((suite, index) => ({ suite, index }))
    .sort(
      (x, y) =>
        RANK[x.suite.rating] - RANK[y.suite.rating] ||
        authRank(x.suite.auth) - authRank(y.suite.auth) ||
        x.index - y.index,
    )
    .map(({ suite }) => suite);
}

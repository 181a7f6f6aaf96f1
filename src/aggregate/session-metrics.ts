// Sessions → the label sets of the Prometheus counters (README "Metrics"). One function for both the census
// view (`report --format prom`, via CensusView.counters) and `watch` (live prom-client counters), so the two
// cannot disagree. Labels never name a peer (DESIGN.md §5: bounded cardinality); the caller caps the few
// log-derived values (cipher, service) with a LabelCap.

import { rateHandshake } from '../ciphers/lookup.js';
import { isMailboxService, type Session } from '../model/types.js';

export const HANDSHAKE_LABELS = ['direction', 'mta', 'service', 'protocol', 'cipher', 'rating'] as const;
export const FAILURE_LABELS = ['direction', 'mta', 'reason'] as const;
export const PLAINTEXT_LABELS = ['direction', 'mta'] as const;

export type MetricFamily = 'handshakes' | 'failures' | 'plaintext';

/** One counter increment: which family, and the label values in the order of that family's label list. */
export interface MetricSample {
  family: MetricFamily;
  values: string[];
}

/** Label values longer than this are cut (a logged cipher name is at most ~60 characters in practice). */
export const MAX_LABEL_CHARS = 80;

/** The `direction` label's values: the report's sections. */
export type MetricDirection = 'inbound' | 'outbound' | 'mailbox';

/**
 * A session's `direction` label: the report's section, so IMAP/POP3 (inbound, but not SMTP) is `mailbox`. Under
 * `inbound` its logins (most of them of no logged version) were summed into the SMTP figures of every panel
 * and of every counter, the failures among them too (review). Three values, whatever the log says.
 */
export function metricDirection(s: Session): MetricDirection {
  return isMailboxService(s.service) ? 'mailbox' : s.direction;
}

/**
 * The counters one closed session adds to: a handshake (cipher = IANA name, or the logged one when the suite
 * is not in the table), a failure (by reason), or a plaintext session. Other outcomes add to none. `direction`:
 * the session's section, when the caller decided it before folding the service name (census-view.ts).
 */
export function sessionMetrics(s: Session, direction: MetricDirection = metricDirection(s)): MetricSample | null {
  if (s.handshake) {
    const h = s.handshake;
    const rated = rateHandshake(h.protocol, typeof h.iana === 'string' ? h.iana : h.cipher);
    return {
      family: 'handshakes',
      values: [direction, s.mta, s.service, h.protocol, rated.iana ?? h.cipher, rated.rating],
    };
  }
  if (s.outcome === 'failed') return { family: 'failures', values: [direction, s.mta, s.failure?.reason ?? 'other'] };
  if (s.outcome === 'plaintext') return { family: 'plaintext', values: [direction, s.mta] };
  return null;
}

/** A map key for a sample (NUL cannot occur in a label value that came through `sanitizeLabel`). */
export function metricKey(m: MetricSample): string {
  return `${m.family}\u0000${m.values.join('\u0000')}`;
}

export function parseMetricKey(key: string): MetricSample {
  const [family, ...values] = key.split('\u0000');
  return { family: family as MetricFamily, values };
}

/** Control characters out (prom-client escapes `\`, `"` and newline, not the rest), length bounded. */
export function sanitizeLabel(value: string): string {
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > MAX_LABEL_CHARS ? `${clean.slice(0, MAX_LABEL_CHARS - 1)}…` : clean;
}

/**
 * Bounds the distinct values of one label: the first `max` distinct values are kept, later new ones become
 * `other`. Time series are forever in Prometheus, so a log that names a new cipher on every line must not
 * create a series per line.
 */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  apply(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}

/** Distinct cipher and service label values kept before the rest is folded into `other`. */
export const MAX_CIPHER_VALUES = 64;
export const MAX_SERVICE_VALUES = 32;

/** Applies the caps to a sample's log-derived labels (cipher and service of handshakes, nothing else varies). */
export class MetricLabelCaps {
  private readonly cipher = new LabelCap(MAX_CIPHER_VALUES);
  private readonly service = new LabelCap(MAX_SERVICE_VALUES);

  apply(m: MetricSample): MetricSample {
    const v = m.values.map(sanitizeLabel);
    if (m.family === 'handshakes') {
      v[2] = this.service.apply(v[2]!);
      v[4] = this.cipher.apply(v[4]!);
    }
    return { family: m.family, values: v };
  }
}

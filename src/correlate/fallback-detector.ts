// Plaintext fallback: a peer whose TLS handshake failed and that then went on without TLS — on the same
// address, within a window. This is the mail that tightening a TLS policy silently downgrades: Postfix at
// `may` retries in plaintext at once (smtp_proto.c RETRY_AS_PLAINTEXT), Exim "delivers unencrypted", and many
// senders simply reconnect without STARTTLS. Sessions arrive in the order the correlator closes them; a
// failure is remembered per direction and address, so memory is bounded by distinct peers (and entries older
// than the window are dropped as the log moves on).

import type { Session } from '../model/types.js';
import { canonicalJson } from './correlator.js';

export const DEFAULT_FALLBACK_WINDOW_MS = 60 * 60 * 1000;
/** Old failures are dropped each time the latest session start enters a new period (log time, as the correlator). */
const SWEEP_PERIOD_MS = 5 * 60 * 1000;

export class FallbackDetector {
  /** Per direction: address → when its last failed handshake started (no `direction|ip` string per session). */
  private readonly lastFailure = new Map<string, Map<string, number>>();
  private latestMs = 0;
  private nextSweepMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly windowMs: number = DEFAULT_FALLBACK_WINDOW_MS) {}

  /** Sets `session.fallback` on a plaintext session that follows a failed handshake of the same peer. */
  mark(s: Session): void {
    if (s.peer === null || s.startMs === null) return;
    if (s.startMs > this.latestMs) {
      this.latestMs = s.startMs;
      if (s.startMs >= this.nextSweepMs) {
        this.nextSweepMs = (Math.floor(s.startMs / SWEEP_PERIOD_MS) + 1) * SWEEP_PERIOD_MS;
        this.sweep();
      }
    }
    if (s.outcome === 'failed') {
      let byIp = this.lastFailure.get(s.direction);
      if (byIp === undefined) {
        byIp = new Map();
        this.lastFailure.set(s.direction, byIp);
      }
      const prev = byIp.get(s.peer.ip);
      if (prev === undefined || s.startMs > prev) byIp.set(s.peer.ip, s.startMs);
    } else if (s.outcome === 'plaintext') {
      const failedAt = this.lastFailure.get(s.direction)?.get(s.peer.ip);
      if (failedAt !== undefined && s.startMs >= failedAt && s.startMs - failedAt <= this.windowMs) s.fallback = true;
    }
  }

  /** What decides the marks to come, comparable (range-census.ts); the order of the failures does not matter. */
  seamState(): string {
    const byText = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const failures: [string, [string, number][]][] = [];
    for (const [direction, byIp] of this.lastFailure) {
      if (byIp.size > 0) failures.push([direction, [...byIp].sort(byText)]);
    }
    failures.sort(byText);
    return canonicalJson({ failures, latestMs: this.latestMs, nextSweepMs: this.nextSweepMs });
  }

  private sweep(): void {
    const horizon = this.latestMs - this.windowMs;
    for (const byIp of this.lastFailure.values()) {
      for (const [ip, at] of byIp) if (at < horizon) byIp.delete(ip);
    }
  }
}

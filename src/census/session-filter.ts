// Which sessions a report counts: time window, direction, services, and --exclude-unknown (the seed
// one-liner's `grep -v 'unknown\['`: clients without a verified name); and a tap that sees every
// closed session (for library users; `report --history` uses CensusOptions.history).

import { type Direction, isUnknownClient, type Session, serviceMatches } from '../model/types.js';

export interface SessionFilter {
  sinceMs?: number | null;
  untilMs?: number | null;
  direction?: Direction | 'both';
  excludeUnknown?: boolean;
  /**
   * Service names as logged after the syslog name (`smtpd`, `submission/smtpd`, `smtp`, `imap`, …), or master.cf
   * service names (`submission`: `submission/smtpd`), as serviceMatches takes them.
   */
  services?: readonly string[] | null;
  /**
   * Sees every closed session before the filter decides, in order, on the main thread (where the sessions are
   * correlated): so a census with a tap does not count in ranges (CensusOptions.history does).
   */
  onSession?: ((s: Session) => void) | null;
}

export function compileFilter(f: SessionFilter): (s: Session) => boolean {
  const since = f.sinceMs ?? null;
  const until = f.untilMs ?? null;
  const direction = f.direction ?? 'both';
  const services = f.services && f.services.length > 0 ? serviceTest(new Set(f.services)) : null;
  const excludeUnknown = f.excludeUnknown ?? false;
  const onSession = f.onSession ?? null;
  return (s) => {
    if (onSession !== null) onSession(s);
    if (direction !== 'both' && s.direction !== direction) return false;
    if (services && !services(s.service)) return false;
    // (Clients: the one-liner's `unknown[` was of inbound lines. An outbound relay given by address — a relayhost
    // `[192.0.2.1]` — has no name either, and is no unknown client: a review saw every smarthost session dropped.)
    if (excludeUnknown && s.direction === 'inbound' && isUnknownClient(s.peer)) return false;
    if (since !== null && (s.startMs === null || s.startMs < since)) return false;
    if (until !== null && (s.startMs === null || s.startMs >= until)) return false;
    return true;
  };
}

/** serviceMatches, remembered per service name (a few distinct ones, met once per session). */
function serviceTest(names: ReadonlySet<string>): (service: string) => boolean {
  const known = new Map<string, boolean>();
  return (service) => {
    let ok = known.get(service);
    if (ok === undefined) {
      ok = serviceMatches(service, names);
      // (Bounded: service names come from the log.)
      if (known.size < 4096) known.set(service, ok);
    }
    return ok;
  };
}

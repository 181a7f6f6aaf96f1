// Session counts per stretch of time (the report's timeline), bounded. A view counts per UTC hour, unless the log
// spans more than MAX_TIME_BUCKETS hours with sessions: then per day, month or year, the finest unit that keeps
// the count of buckets within the bound. Which unit that is depends only on the set of session start times (the
// count of distinct buckets only grows, so a view coarsens once that count passes the bound and never goes back),
// not on their order, so views counted apart and merged (mergeViews) end in the same unit as one pass.
//
// Why: log text is hostile. Lines dated anywhere from year 0 to 9999 (a forged log, or a corrupt one) would
// otherwise make a map entry per distinct hour: memory growing with the log, not with its time span.

/** Finest first. */
export const TIME_UNITS = ['hour', 'day', 'month', 'year'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

/** Distinct buckets a view keeps at most: 20,000 hours is over two years of them, 20,000 days 54 years. */
export const MAX_TIME_BUCKETS = 20_000;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The start (ms, UTC) of the `unit` holding `ms`. */
export function bucketStart(ms: number, unit: TimeUnit): number {
  if (unit === 'hour') return Math.floor(ms / HOUR_MS) * HOUR_MS;
  if (unit === 'day') return Math.floor(ms / DAY_MS) * DAY_MS;
  // Set through the Date object, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  const d = new Date(Math.floor(ms / DAY_MS) * DAY_MS);
  d.setUTCDate(1);
  if (unit === 'year') d.setUTCMonth(0);
  return d.getTime();
}

/** The coarser of two units. */
export function coarser(a: TimeUnit, b: TimeUnit): TimeUnit {
  return TIME_UNITS.indexOf(a) >= TIME_UNITS.indexOf(b) ? a : b;
}

/** Adds the counts of `from` (keyed by bucket start) into `into`. */
export function addBucketCounts(into: Map<number, Map<string, number>>, from: Map<number, Map<string, number>>): void {
  for (const [start, counts] of from) {
    const mine = into.get(start);
    if (mine === undefined) into.set(start, new Map(counts));
    else for (const [k, n] of counts) mine.set(k, (mine.get(k) ?? 0) + n);
  }
}

/** `buckets` in `unit` (a coarser one than theirs: their starts fall into its buckets). */
export function rebucket(buckets: Map<number, Map<string, number>>, unit: TimeUnit): Map<number, Map<string, number>> {
  const out = new Map<number, Map<string, number>>();
  for (const [start, counts] of buckets) {
    const at = bucketStart(start, unit);
    const mine = out.get(at);
    if (mine === undefined) out.set(at, new Map(counts));
    else for (const [k, n] of counts) mine.set(k, (mine.get(k) ?? 0) + n);
  }
  return out;
}

/** The finest unit, from `unit` on, in which `buckets` (in `unit`) are at most MAX_TIME_BUCKETS, and them in it. */
export function withinBound(
  buckets: Map<number, Map<string, number>>,
  unit: TimeUnit,
): { buckets: Map<number, Map<string, number>>; unit: TimeUnit } {
  let b = buckets;
  let u = unit;
  while (b.size > MAX_TIME_BUCKETS && u !== 'year') {
    u = TIME_UNITS[TIME_UNITS.indexOf(u) + 1]!;
    b = rebucket(b, u);
  }
  return { buckets: b, unit: u };
}

/** The start of the `unit` after the one starting at `start`. */
export function nextBucket(start: number, unit: TimeUnit): number {
  if (unit === 'hour') return start + HOUR_MS;
  if (unit === 'day') return start + DAY_MS;
  const d = new Date(start);
  if (unit === 'month') d.setUTCMonth(d.getUTCMonth() + 1);
  else d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.getTime();
}

/** How many `unit`s there are from the one starting at `first` to the one starting at `last`, both included. */
export function bucketsBetween(first: number, last: number, unit: TimeUnit): number {
  if (unit === 'hour') return (last - first) / HOUR_MS + 1;
  if (unit === 'day') return (last - first) / DAY_MS + 1;
  const a = new Date(first);
  const b = new Date(last);
  const years = b.getUTCFullYear() - a.getUTCFullYear();
  return unit === 'year' ? years + 1 : years * 12 + b.getUTCMonth() - a.getUTCMonth() + 1;
}

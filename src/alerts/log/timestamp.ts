/**
 * Timestamps as PostgreSQL writes them in its logs (`%m`, `%t`, csvlog and
 * jsonlog): `2025-01-31 10:00:00.123 UTC`, with the zone as log_timezone's
 * abbreviation (`CET`, `EST`) or a numeric offset (`-05`, `+0530`).
 *
 * Abbreviations are ambiguous in general (`IST` is India, Israel or Ireland;
 * `CST` is Central or China Standard Time), so only unambiguous ones are
 * known. Any other zone parses as if it were UTC and is flagged: differences
 * between lines of one file stay right, the absolute time may not.
 */

export interface LogTime {
  /** Epoch milliseconds. */
  readonly ms: number;
  /** False when the zone was missing or unknown, and `ms` treats the local time as UTC. */
  readonly zoneKnown: boolean;
}

/** Offsets in minutes of abbreviations that mean one thing only. */
const ZONES: Readonly<Record<string, number>> = {
  UTC: 0,
  UCT: 0,
  GMT: 0,
  Z: 0,
  WET: 0,
  WEST: 60,
  CET: 60,
  CEST: 120,
  MET: 60,
  MEST: 120,
  EET: 120,
  EEST: 180,
  MSK: 180,
  EST: -300,
  EDT: -240,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  AKST: -540,
  AKDT: -480,
  HST: -600,
  NZST: 720,
  NZDT: 780,
  AEST: 600,
  AEDT: 660,
  ACST: 570,
  ACDT: 630,
  AWST: 480,
  JST: 540,
  KST: 540,
  HKT: 480,
  SAST: 120,
};

/** The text of a timestamp with its zone; used inside larger patterns. */
export const TIMESTAMP_PATTERN =
  '\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,6})?(?: (?:[A-Za-z]{1,6}|[+-]\\d{2}(?::?\\d{2})?))?';

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: ([A-Za-z]{1,6}|[+-]\d{2}(?::?\d{2})?))?$/;

function offsetMinutes(zone: string | undefined): number | undefined {
  if (zone === undefined) return undefined;
  const numeric = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(zone);
  if (numeric) {
    const minutes = Number(numeric[2]) * 60 + Number(numeric[3] ?? 0);
    return numeric[1] === '-' ? -minutes : minutes;
  }
  return ZONES[zone.toUpperCase()];
}

/** Parses a log timestamp, or returns undefined when `text` is not one. */
export function parseLogTimestamp(text: string): LogTime | undefined {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) return undefined;
  const fraction = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
  const naive = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    Number(fraction || 0),
  );
  if (Number.isNaN(naive)) return undefined;
  const offset = offsetMinutes(m[8]);
  return offset === undefined
    ? { ms: naive, zoneKnown: false }
    : { ms: naive - offset * 60_000, zoneKnown: true };
}

/** `%n`: seconds since the epoch with milliseconds, `1700000000.123`. */
export function parseEpochTimestamp(text: string): LogTime | undefined {
  if (!/^\d{9,11}(?:\.\d{1,6})?$/.test(text)) return undefined;
  return { ms: Math.round(Number(text) * 1000), zoneKnown: true };
}

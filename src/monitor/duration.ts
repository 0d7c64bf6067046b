/**
 * Durations on the command line and in config files: `500ms`, `2s`, `5m`,
 * `26h`, `1d`, or compounds such as `1h30m`. A bare number is refused: "5"
 * could mean seconds or milliseconds, and guessing wrong silently changes an
 * alert threshold by a factor of a thousand.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** Milliseconds for `text`, or undefined when it is not a duration with units. */
export function parseDuration(text: string): number | undefined {
  const input = text.trim().toLowerCase();
  if (input.length === 0) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < input.length) {
    const at = PART.lastIndex;
    const match = PART.exec(input);
    if (!match || match.index !== at) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** A short human form: `0.25ms`, `850ms`, `12.3s`, `5m 02s`, `2h 05m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 10) return `${sign}${abs.toFixed(2)}ms`;
  if (abs < 1_000) return `${sign}${Math.round(abs)}ms`;
  if (abs < 60_000) return `${sign}${(abs / 1_000).toFixed(1)}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (abs < 3_600_000) {
    const minutes = Math.floor(abs / 60_000);
    return `${sign}${minutes}m ${pad(Math.floor((abs % 60_000) / 1_000))}s`;
  }
  if (abs < 86_400_000) {
    const hours = Math.floor(abs / 3_600_000);
    return `${sign}${hours}h ${pad(Math.floor((abs % 3_600_000) / 60_000))}m`;
  }
  const days = Math.floor(abs / 86_400_000);
  return `${sign}${days}d ${Math.floor((abs % 86_400_000) / 3_600_000)}h`;
}

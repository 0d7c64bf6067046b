import { IncidentError } from './incident-error.js';

const UNITS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400, w: 604_800 };

/** Parses `90s`, `30m`, `24h`, `7d`, `2w` into seconds. */
export function parseDurationSeconds(text: string, option = '--since'): number {
  const match = /^(\d+)\s*(s|m|min|h|d|w)$/.exec(text.trim());
  const value = match ? Number(match[1]) * (UNITS[match[2] ?? ''] ?? 0) : NaN;
  if (!match || !Number.isSafeInteger(value) || value <= 0) {
    throw new IncidentError('PGW_CLI_USAGE', `${option} "${text}" is not a duration.`, {
      option,
      fix: `Use a number and a unit: s, m, h, d or w (e.g. ${option} 24h).`,
    });
  }
  return value;
}

/**
 * PostgreSQL majors, their end-of-life dates and the newest minor release
 * known when this table was written. Update it with every quarterly release
 * (https://www.postgresql.org/support/versioning/); the check reports the
 * table's date so a stale table is visible in every report.
 */

export interface ServerVersionEntry {
  readonly major: number;
  /** The newest minor release of this major as of {@link ServerVersionTable.asOf}. */
  readonly latestMinor: number;
  /** Last day the community supports this major (YYYY-MM-DD). */
  readonly endOfLife: string;
}

export interface ServerVersionTable {
  /** The release day the `latestMinor` values describe (YYYY-MM-DD). */
  readonly asOf: string;
  readonly majors: readonly ServerVersionEntry[];
}

export const SERVER_VERSIONS: ServerVersionTable = Object.freeze({
  asOf: '2026-05-14',
  majors: Object.freeze([
    { major: 18, latestMinor: 4, endOfLife: '2030-11-14' },
    { major: 17, latestMinor: 10, endOfLife: '2029-11-08' },
    { major: 16, latestMinor: 14, endOfLife: '2028-11-09' },
    { major: 15, latestMinor: 18, endOfLife: '2027-11-11' },
    { major: 14, latestMinor: 23, endOfLife: '2026-11-12' },
    { major: 13, latestMinor: 23, endOfLife: '2025-11-13' },
    { major: 12, latestMinor: 22, endOfLife: '2024-11-21' },
    { major: 11, latestMinor: 22, endOfLife: '2023-11-09' },
    { major: 10, latestMinor: 23, endOfLife: '2022-11-10' },
  ]),
});

/** Days after `asOf` when the next quarterly release is due; past it, the table may be stale. */
export const TABLE_STALE_AFTER_DAYS = 100;

export type VersionVerdict =
  | { readonly kind: 'end-of-life'; readonly endOfLife: string }
  | { readonly kind: 'outdated-minor'; readonly latest: string }
  | { readonly kind: 'unknown-major' }
  | { readonly kind: 'current'; readonly endOfLife: string; readonly stale: boolean };

/** Judges `server_version_num` (e.g. 150018) against the table on `now`. */
export function judgeServerVersion(versionNum: number, table: ServerVersionTable, now: Date): VersionVerdict {
  const major = Math.floor(versionNum / 10000);
  const minor = versionNum % 10000;
  const entry = table.majors.find((m) => m.major === major);
  if (!entry) {
    const oldest = Math.min(...table.majors.map((m) => m.major));
    return major < oldest
      ? { kind: 'end-of-life', endOfLife: `before ${table.asOf}` }
      : { kind: 'unknown-major' };
  }
  if (now.getTime() > Date.parse(`${entry.endOfLife}T23:59:59Z`))
    return { kind: 'end-of-life', endOfLife: entry.endOfLife };
  if (minor < entry.latestMinor) return { kind: 'outdated-minor', latest: `${major}.${entry.latestMinor}` };
  const ageDays = (now.getTime() - Date.parse(`${table.asOf}T00:00:00Z`)) / 86_400_000;
  return { kind: 'current', endOfLife: entry.endOfLife, stale: ageDays > TABLE_STALE_AFTER_DAYS };
}

/**
 * Server, backup and replication: the release, data checksums and the
 * failures they caught, WAL archiving, replication slots and the standby's
 * own connection to its primary.
 */
import { cis, defineArea, fail, pass, pgDocs, skip } from '../check.js';
import { judgeServerVersion } from '../server-versions.js';
import { isOn, settingValue } from '../session.js';
import { literal } from '../sql-text.js';
import { summarizeConninfo } from './conninfo.js';

export interface ServerFacts {
  readonly version: string;
  readonly versionNum: number;
  readonly inRecovery: boolean;
  readonly dataChecksums: string | undefined;
  readonly checksumFailures: readonly { database: string; failures: number; last: string | null }[];
  readonly archiveMode: string | undefined;
  readonly archiveCommand: string | undefined;
  readonly archiveLibrary: string | undefined;
  readonly archiver: {
    archived_count: number;
    failed_count: number;
    last_archived_time: string | null;
    last_failed_time: string | null;
    last_failed_wal: string | null;
  };
  readonly slots: readonly {
    name: string;
    type: string;
    active: boolean;
    walStatus: string | null;
    retainedBytes: number | null;
  }[];
  readonly primaryConninfo: string | undefined;
}

const SERVER_SQL = `SELECT json_build_object(
  'checksumFailures', (SELECT coalesce(json_agg(json_build_object('database', coalesce(datname, '(shared objects)'),
      'failures', checksum_failures, 'last', checksum_last_failure) ORDER BY datname), '[]'::json)
    FROM pg_catalog.pg_stat_database WHERE checksum_failures > 0),
  'archiver', (SELECT row_to_json(a) FROM pg_catalog.pg_stat_archiver a),
  'slots', (SELECT coalesce(json_agg(json_build_object('name', slot_name, 'type', slot_type, 'active', active,
      'walStatus', wal_status, 'retainedBytes', CASE WHEN restart_lsn IS NULL THEN NULL
        WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_replay_lsn(), restart_lsn)
        ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn) END) ORDER BY slot_name), '[]'::json)
    FROM pg_catalog.pg_replication_slots)
) AS facts`;

const megabytes = (bytes: number | null): string =>
  bytes === null ? 'no WAL reserved' : `${Math.round(bytes / 1048576)} MB of WAL retained`;

export const serverArea = defineArea<ServerFacts>({
  area: 'server',
  needsConnection: true,
  async gather({ session }) {
    const s = session!;
    const row = (
      await s.query<{ facts: Pick<ServerFacts, 'checksumFailures' | 'archiver' | 'slots'> }>(SERVER_SQL)
    )[0]!.facts;
    return {
      version: s.serverVersion,
      versionNum: s.serverVersionNum,
      inRecovery: s.inRecovery,
      dataChecksums: settingValue(s, 'data_checksums'),
      archiveMode: settingValue(s, 'archive_mode'),
      archiveCommand: settingValue(s, 'archive_command'),
      archiveLibrary: settingValue(s, 'archive_library'),
      primaryConninfo: settingValue(s, 'primary_conninfo'),
      ...row,
    };
  },
  checks: [
    {
      id: 'server.version-supported',
      severity: 'high',
      title: 'The server runs a supported major at its latest minor release',
      rationale: 'End-of-life majors get no security fixes; every minor release fixes bugs and often CVEs.',
      remediation:
        'Upgrade to the latest minor release of the major (a package update and restart), or pg_upgrade to a supported major.',
      cis: [cis('1.5', 'Latest Security Patches are Applied')],
      references: ['https://www.postgresql.org/support/versioning/'],
      evaluate(facts, context) {
        const table = context.versionTable;
        const verdict = judgeServerVersion(facts.versionNum, table, context.now);
        const object = [{ type: 'server', name: 'server_version', value: facts.version }];
        switch (verdict.kind) {
          case 'end-of-life':
            return fail(
              `PostgreSQL ${facts.version} is past its end of life (${verdict.endOfLife}): no more security fixes.`,
              object,
              { severity: 'critical' },
            );
          case 'outdated-minor':
            return fail(
              `PostgreSQL ${facts.version} is behind the latest minor release ${verdict.latest} (release table of ${table.asOf}).`,
              object,
            );
          case 'unknown-major':
            return pass(
              `PostgreSQL ${facts.version} is newer than every major in the release table of ${table.asOf}.`,
            );
          case 'current':
            return pass(
              `PostgreSQL ${facts.version} is the latest minor release known (release table of ${table.asOf}); supported until ${verdict.endOfLife}.${verdict.stale ? ' The table is older than a release cycle: a newer minor may exist; update pgwarden.' : ''}`,
            );
        }
      },
    },
    {
      id: 'server.data-checksums',
      severity: 'medium',
      title: 'Data checksums are enabled',
      rationale: 'Without checksums, storage corruption is read back silently and spreads into backups.',
      remediation:
        'pg_checksums --enable -D $PGDATA  # with the server stopped; or initdb -k for new clusters',
      references: [pgDocs('app-pgchecksums.html')],
      evaluate(facts) {
        if (isOn(facts.dataChecksums)) return pass('data_checksums = on.');
        return fail(`data_checksums = ${facts.dataChecksums ?? '?'}.`, [
          { type: 'setting', name: 'data_checksums', value: facts.dataChecksums ?? '' },
        ]);
      },
    },
    {
      id: 'server.checksum-failures',
      severity: 'critical',
      title: 'No checksum failure has been detected',
      rationale:
        'A checksum failure means a data page changed on disk behind the server: failing storage or tampering.',
      remediation:
        'Check the storage, find the damaged relations (the log names them), restore them from a backup; pg_stat_reset() clears the counter afterwards.',
      references: [pgDocs('monitoring-stats.html#MONITORING-PG-STAT-DATABASE-VIEW')],
      evaluate(facts) {
        if (!isOn(facts.dataChecksums))
          return skip(
            'Data checksums are off, so corruption cannot be detected (see server.data-checksums).',
          );
        if (facts.checksumFailures.length === 0) return pass('pg_stat_database reports no checksum failure.');
        return fail(
          `Checksum failures: ${facts.checksumFailures.map((f) => `${f.database}: ${f.failures} (last ${f.last ?? '?'})`).join(', ')}.`,
          facts.checksumFailures.map((f) => ({
            type: 'database',
            name: f.database,
            value: `${f.failures} checksum failure(s)`,
          })),
        );
      },
    },
    {
      id: 'backup.archive-mode',
      severity: 'medium',
      title: 'WAL archiving is on',
      rationale:
        'Without WAL archiving there is no point-in-time recovery: after ransomware or a bad DELETE you lose everything since the last dump.',
      remediation:
        "archive_mode = on\narchive_command = 'pgbackrest --stanza=main archive-push %p'  # or your tool; needs a restart",
      cis: [cis('7.4', 'WAL archiving is configured and functional')],
      references: [pgDocs('continuous-archiving.html')],
      evaluate(facts) {
        const mode = facts.archiveMode ?? '?';
        if (mode === 'off')
          return fail('archive_mode = off.', [{ type: 'setting', name: 'archive_mode', value: mode }]);
        if (!facts.archiveCommand && !facts.archiveLibrary) {
          return fail(
            `archive_mode = ${mode} but neither archive_command nor archive_library is set: WAL piles up unarchived.`,
            [{ type: 'setting', name: 'archive_command', value: '' }],
          );
        }
        return pass(
          `archive_mode = ${mode} with ${facts.archiveLibrary ? `archive_library ${facts.archiveLibrary}` : 'an archive_command'}.`,
        );
      },
    },
    {
      id: 'backup.archiver-failing',
      severity: 'high',
      title: 'The WAL archiver is not failing',
      rationale:
        'A failing archiver means backups have a gap and WAL accumulates in pg_wal until the disk is full.',
      remediation:
        'Read the server log for "archive command failed", fix the archive destination, and watch pg_stat_archiver.',
      cis: [cis('7.4', 'WAL archiving is configured and functional')],
      references: [pgDocs('monitoring-stats.html#MONITORING-PG-STAT-ARCHIVER-VIEW')],
      evaluate(facts) {
        if (facts.archiveMode === 'off') return skip('WAL archiving is off (see backup.archive-mode).');
        const a = facts.archiver;
        const failing =
          a.last_failed_time !== null &&
          (a.last_archived_time === null ||
            Date.parse(a.last_failed_time) > Date.parse(a.last_archived_time));
        if (!failing)
          return pass(
            `${a.archived_count} WAL file(s) archived${a.last_archived_time ? `, last at ${a.last_archived_time}` : ''}; no failure since.`,
          );
        return fail(
          `The archiver failed ${a.failed_count} time(s), last at ${a.last_failed_time} on ${a.last_failed_wal ?? '?'}, with no success since.`,
          [
            {
              type: 'archiver',
              name: 'pg_stat_archiver',
              value: `last failure ${a.last_failed_time} (${a.last_failed_wal ?? '?'})`,
            },
          ],
        );
      },
    },
    {
      id: 'repl.inactive-slots',
      severity: 'medium',
      title: 'No replication slot is inactive',
      rationale:
        'An inactive slot keeps WAL (and vacuum) back for a consumer that is gone, until the disk fills up and the server stops.',
      remediation: "SELECT pg_drop_replication_slot('name');  -- once you are sure its consumer is gone",
      references: [pgDocs('warm-standby.html#STREAMING-REPLICATION-SLOTS')],
      evaluate(facts) {
        const inactive = facts.slots.filter((s) => !s.active);
        if (inactive.length === 0)
          return pass(
            facts.slots.length === 0
              ? 'No replication slots.'
              : `All ${facts.slots.length} slot(s) are active.`,
          );
        return fail(
          `Inactive slots: ${inactive.map((s) => `${s.name} (${s.type}, ${megabytes(s.retainedBytes)})`).join(', ')}.`,
          inactive.map((s) => ({
            type: 'slot',
            name: s.name,
            value: `${s.type}, ${megabytes(s.retainedBytes)}`,
          })),
          {
            remediation: inactive
              .map((s) => `SELECT pg_drop_replication_slot(${literal(s.name)});`)
              .join('\n'),
          },
        );
      },
    },
    {
      id: 'repl.primary-conninfo-ssl',
      severity: 'high',
      title: "A standby's connection to its primary verifies TLS",
      rationale:
        'Replication streams every change of every database; without verify-full an attacker in the path reads or feeds it.',
      remediation:
        "primary_conninfo = 'host=primary.example user=replicator sslmode=verify-full sslrootcert=/etc/postgresql/root.crt'",
      cis: [cis('7.5', 'streaming replication parameters')],
      references: [pgDocs('runtime-config-replication.html#GUC-PRIMARY-CONNINFO')],
      requires: ['readAllSettings'],
      evaluate(facts) {
        const conninfo = facts.primaryConninfo ?? '';
        if (conninfo.trim() === '') {
          return pass(
            facts.inRecovery
              ? 'This standby has no primary_conninfo (it restores from the archive only).'
              : 'primary_conninfo is empty: this server is not a streaming standby.',
          );
        }
        const info = summarizeConninfo(conninfo);
        const sslmode = info.sslmode ?? 'prefer (default)';
        const target = `host=${info.host ?? '?'} port=${info.port ?? '5432'} user=${info.user ?? '?'}`;
        if (info.sslmode === 'verify-full')
          return pass(`primary_conninfo (${target}) uses sslmode=verify-full.`);
        return fail(
          `primary_conninfo (${target}) uses sslmode=${sslmode}${facts.inRecovery ? '' : ' (not used until this server becomes a standby)'}.`,
          [{ type: 'setting', name: 'primary_conninfo', value: `${target} sslmode=${sslmode}` }],
        );
      },
    },
  ],
});

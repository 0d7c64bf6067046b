/**
 * Age of the newest backup of each database in a backup directory, from the
 * manifests `pgwarden backup` writes (`<id>.manifest.json`, read with
 * src/backup's `listBackups`; no key is needed to read their dates).
 * Backups whose file is missing or the wrong size, and those whose last
 * verification failed, do not count. A directory with no usable backup
 * fires. Threshold: 26 hours (a daily backup, with slack).
 */
import { PgwardenError } from '../../errors.js';
import { formatDuration } from '../../monitor/duration.js';
import type { AlertsConfig } from '../config.js';
import { RULE_TITLES, skipped, type RuleResult } from '../rule-result.js';
import { DISABLED } from './log-rule.js';

const HOUR_MS = 3_600_000;

export async function backupAgeRule(config: AlertsConfig, now: number): Promise<RuleResult> {
  const rule = config.rules['backup-age'];
  const base = {
    severity: rule.severity,
    threshold: Math.round((rule.maxAgeMs / HOUR_MS) * 100) / 100,
    unit: 'hours' as const,
    window: null,
    source: 'backup manifests',
  };
  if (!rule.enabled) return skipped('backup-age', base, DISABLED);
  const dir = config.backupDir;
  if (!dir) {
    return skipped(
      'backup-age',
      base,
      'no backup directory given: pass --backup-dir DIR (where `pgwarden backup` writes)',
    );
  }
  // Loaded only when asked for: the backup code is large and most runs do not need it.
  const { listBackups } = await import('../../backup/list.js');
  let list;
  try {
    list = listBackups(dir);
  } catch (error) {
    const why = error instanceof PgwardenError ? `[${error.code}] ${error.message}` : String(error);
    return skipped('backup-age', base, `the backup directory cannot be listed: ${why}`);
  }
  const ignored: { id: string; why: string }[] = [];
  const newest = new Map<string, { id: string; completedAt: string }>();
  for (const backup of list.backups) {
    if (backup.status !== 'ok') {
      ignored.push({ id: backup.id, why: backup.status });
      continue;
    }
    if (backup.verified && !backup.verified.ok) {
      ignored.push({ id: backup.id, why: 'verification failed' });
      continue;
    }
    const completedAt = backup.manifest.completedAt;
    const known = newest.get(backup.database);
    if (!known || Date.parse(completedAt) > Date.parse(known.completedAt)) {
      newest.set(backup.database, { id: backup.id, completedAt });
    }
  }
  const databases = [...newest].map(([database, b]) => ({
    database,
    id: b.id,
    completedAt: b.completedAt,
    ageHours: Math.round(((now - Date.parse(b.completedAt)) / HOUR_MS) * 10) / 10,
  }));
  const notes = [
    ...(ignored.length
      ? [`${ignored.length} backup(s) not counted: ${ignored.map((i) => `${i.id} (${i.why})`).join(', ')}.`]
      : []),
    ...(list.problems.length
      ? [`${list.problems.length} problem(s) in the directory: run \`pgwarden backup list\`.`]
      : []),
  ];
  const details = { dir: list.dir, databases, ignored, problems: list.problems.length };
  if (databases.length === 0) {
    return {
      rule: 'backup-age',
      title: RULE_TITLES['backup-age'],
      status: 'fired',
      ...base,
      observed: null,
      summary: `No usable backup in ${list.dir}.`,
      details,
      ...(notes.length ? { notes } : {}),
    };
  }
  const oldest = databases.reduce((a, b) => (b.ageHours > a.ageHours ? b : a));
  const stale = databases.filter((d) => now - Date.parse(d.completedAt) > rule.maxAgeMs);
  return {
    rule: 'backup-age',
    title: RULE_TITLES['backup-age'],
    status: stale.length ? 'fired' : 'ok',
    ...base,
    observed: oldest.ageHours,
    summary: stale.length
      ? `The newest backup of ${stale.map((d) => `${d.database} is ${formatDuration(now - Date.parse(d.completedAt))} old`).join(', ')} (threshold ${formatDuration(rule.maxAgeMs)}).`
      : `The newest backup of every database is at most ${formatDuration(now - Date.parse(oldest.completedAt))} old (threshold ${formatDuration(rule.maxAgeMs)}).`,
    details,
    ...(notes.length ? { notes } : {}),
  };
}

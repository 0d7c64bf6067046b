/**
 * Which backups `cleanup` deletes. Pure: dates in, decisions out, so the
 * rules are tested on crafted dates. Within each (database, retention class)
 * group, newest first, a backup is kept when any rule keeps it:
 * - it is one of the newest `keepLast`;
 * - it is one of the newest `minVerified` backups whose last verification
 *   passed and was recorded with the key (so the newest good backups survive
 *   even when all are old; a keyless result proves nothing);
 * - it has not expired: younger than `keepDays` when given, else before the
 *   `expiresAt` recorded at creation.
 */

export interface RetentionCandidate {
  readonly id: string;
  readonly database: string;
  readonly retentionClass: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** The last verification passed, and was recorded with the backup's key (authenticated). */
  readonly verified: boolean;
}

export interface RetentionPolicy {
  readonly now: Date;
  /** Overrides each backup's recorded expiry: older than this many days is expired. */
  readonly keepDays?: number | undefined;
  /** Always keep the newest N of each group. Default 1. */
  readonly keepLast?: number | undefined;
  /** Always keep the newest N verified backups of each group. Default 1. */
  readonly minVerified?: number | undefined;
}

export interface RetentionDecision {
  readonly id: string;
  readonly action: 'keep' | 'delete';
  readonly reasons: readonly string[];
}

const DAY_MS = 86_400_000;

export function planRetention(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
): RetentionDecision[] {
  const keepLast = policy.keepLast ?? 1;
  const minVerified = policy.minVerified ?? 1;
  const groups = new Map<string, RetentionCandidate[]>();
  for (const candidate of candidates) {
    const key = JSON.stringify([candidate.database, candidate.retentionClass]);
    groups.set(key, [...(groups.get(key) ?? []), candidate]);
  }
  const decisions: RetentionDecision[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id.localeCompare(a.id));
    let verifiedSeen = 0;
    group.forEach((candidate, index) => {
      const reasons: string[] = [];
      if (index < keepLast) reasons.push(`one of the newest ${keepLast}`);
      if (candidate.verified) {
        verifiedSeen += 1;
        if (verifiedSeen <= minVerified) reasons.push(`one of the newest ${minVerified} verified`);
      }
      const expired =
        policy.keepDays !== undefined
          ? candidate.createdAt.getTime() < policy.now.getTime() - policy.keepDays * DAY_MS
          : candidate.expiresAt.getTime() <= policy.now.getTime();
      if (!expired) {
        reasons.push(
          policy.keepDays !== undefined
            ? `younger than ${policy.keepDays} days`
            : `expires ${candidate.expiresAt.toISOString()}`,
        );
      }
      if (reasons.length > 0) decisions.push({ id: candidate.id, action: 'keep', reasons });
      else {
        decisions.push({
          id: candidate.id,
          action: 'delete',
          reasons: [
            policy.keepDays !== undefined
              ? `older than ${policy.keepDays} days`
              : `expired ${candidate.expiresAt.toISOString()}`,
          ],
        });
      }
    });
  }
  return decisions;
}

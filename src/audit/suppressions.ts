/**
 * Suppressions: findings a team has accepted, each with a reason and
 * optionally an expiry date, from `.pgwarden-audit.yaml` or `--ignore`.
 * An expired suppression no longer applies and is reported, so accepted risk
 * is revisited instead of forgotten.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadZod } from '../config/zod.js';
import { closestName } from '../config/suggest.js';
import { AuditError } from './audit-error.js';
import { CHECK_IDS } from './catalog.js';
import type { AppliedSuppression, Finding } from './finding.js';

// One zod per process: config/zod.ts.
const z = loadZod();

/** The default file name, looked up in the working directory. */
export const SUPPRESSIONS_FILE = '.pgwarden-audit.yaml';

export interface Suppression {
  /** Check id, e.g. `hba.trust`. */
  readonly id: string;
  /** An object name (`pg_hba.conf:3`, a role, `schema.table`); `*` matches any run of characters. Absent: the whole finding. */
  readonly object?: string;
  readonly reason: string;
  /** YYYY-MM-DD: the last day the suppression applies. */
  readonly expires?: string;
  readonly source: 'file' | 'flag';
}

const entrySchema = z
  .object({
    id: z.string().min(1),
    object: z.string().min(1).optional(),
    reason: z.string().trim().min(1, 'a reason is required'),
    expires: z
      .union([z.string(), z.date()])
      .transform((v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v))
      .refine(
        (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && Number.isFinite(Date.parse(v)),
        'expires must be a date (YYYY-MM-DD)',
      )
      .optional(),
  })
  .strict();

const fileSchema = z
  .object({ version: z.literal(1).optional(), suppressions: z.array(entrySchema).default([]) })
  .strict();

function unknownIds(entries: readonly { id: string }[], origin: string): void {
  for (const entry of entries) {
    if (CHECK_IDS.includes(entry.id)) continue;
    const guess = closestName(entry.id, CHECK_IDS);
    throw new AuditError(
      'PGW_AUDIT_SUPPRESSIONS_INVALID',
      `${origin}: "${entry.id}" is not a check id${guess ? `; did you mean "${guess}"?` : '.'}`,
      {
        option: origin,
        fix: 'Use an id from docs/audit.md (e.g. hba.trust) or from the report.',
      },
    );
  }
}

/** Parses suppressions from YAML text; `origin` names the file in errors. */
export function parseSuppressions(text: string, origin: string): Suppression[] {
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (error) {
    throw new AuditError(
      'PGW_AUDIT_SUPPRESSIONS_INVALID',
      `${origin} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
      {
        option: origin,
        fix: 'Fix the YAML syntax (see docs/audit.md for the format).',
      },
    );
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`)
      .join('; ');
    throw new AuditError('PGW_AUDIT_SUPPRESSIONS_INVALID', `${origin} is invalid: ${issues}.`, {
      option: origin,
      fix: 'Each entry needs id and reason, and may have object and expires (YYYY-MM-DD); see docs/audit.md.',
    });
  }
  unknownIds(parsed.data.suppressions, origin);
  return parsed.data.suppressions.map((e) => ({ ...e, source: 'file' as const }));
}

/** Reads a suppressions file; a missing default file is no error, a missing named one is. */
export function loadSuppressions(path: string, required: boolean): Suppression[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AuditError('PGW_AUDIT_SUPPRESSIONS_INVALID', `Cannot read the suppressions file ${path}.`, {
      option: '--suppressions',
      fix: 'Check the path and its permissions.',
      cause: error,
    });
  }
  return parseSuppressions(text, path);
}

/** Turns `--ignore id[:object]` values into suppressions carrying `reason`. */
export function ignoreFlags(values: readonly string[], reason: string | undefined): Suppression[] {
  if (values.length === 0) return [];
  if (!reason || reason.trim() === '') {
    throw new AuditError('PGW_AUDIT_SUPPRESSIONS_INVALID', '--ignore needs a reason.', {
      option: '--ignore-reason',
      fix: 'Add --ignore-reason "why this is accepted" (or use .pgwarden-audit.yaml entries, each with its reason).',
    });
  }
  const entries = values.map((value) => {
    const at = value.indexOf(':');
    const id = at === -1 ? value : value.slice(0, at);
    const object = at === -1 ? undefined : value.slice(at + 1);
    return { id, ...(object ? { object } : {}), reason: reason.trim(), source: 'flag' as const };
  });
  unknownIds(entries, '--ignore');
  return entries;
}

export interface SuppressionOutcome {
  readonly findings: Finding[];
  readonly expired: readonly Suppression[];
  readonly unused: readonly Suppression[];
  readonly applied: number;
}

function matches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return regex.test(name);
}

/** Applies suppressions to failing findings; `today` is YYYY-MM-DD. */
export function applySuppressions(
  findings: readonly Finding[],
  suppressions: readonly Suppression[],
  today: string,
): SuppressionOutcome {
  const expired = suppressions.filter((s) => s.expires !== undefined && s.expires < today);
  const active = suppressions.filter((s) => !expired.includes(s));
  const used = new Set<Suppression>();
  const out = findings.map((finding): Finding => {
    if (finding.status !== 'fail') return finding;
    const entries = active.filter((s) => s.id === finding.id);
    if (entries.length === 0) return finding;
    const whole = entries.find((s) => s.object === undefined);
    if (whole) {
      used.add(whole);
      return { ...finding, suppressed: describe(whole) };
    }
    const removed = finding.objects.filter((o) =>
      entries.some((s) => s.object !== undefined && matches(s.object, o.name) && used.add(s)),
    );
    if (removed.length === 0) return finding;
    const remaining = finding.objects.filter((o) => !removed.includes(o));
    const first = entries.find((s) => removed.some((o) => matches(s.object!, o.name)))!;
    if (remaining.length === 0) {
      return {
        ...finding,
        suppressed: { ...describe(first), objects: removed.map((o) => o.name) },
        suppressedObjects: removed,
      };
    }
    return { ...finding, objects: remaining, suppressedObjects: removed };
  });
  return { findings: out, expired, unused: active.filter((s) => !used.has(s)), applied: used.size };
}

function describe(s: Suppression): AppliedSuppression {
  return { reason: s.reason, source: s.source, ...(s.expires ? { expires: s.expires } : {}) };
}

/**
 * `--baseline FILE`: a previous JSON report. Failing findings (and objects)
 * it already had are marked `inBaseline` and no longer count, so CI fails
 * only on what is new.
 */
import { readFileSync } from 'node:fs';
import { loadZod } from '../config/zod.js';
import { AuditError } from './audit-error.js';
import type { Finding } from './finding.js';

// One zod per process: config/zod.ts.
const z = loadZod();

const baselineSchema = z.object({
  tool: z.object({ name: z.literal('pgwarden') }).passthrough(),
  findings: z.array(
    z
      .object({
        id: z.string(),
        status: z.string(),
        objects: z.array(z.object({ name: z.string() }).passthrough()).default([]),
        suppressedObjects: z.array(z.object({ name: z.string() }).passthrough()).optional(),
      })
      .passthrough(),
  ),
});

/** Failing check ids of the baseline, each with the object names it reported. */
export type Baseline = ReadonlyMap<string, ReadonlySet<string>>;

export function parseBaseline(text: string, origin: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new AuditError('PGW_AUDIT_BASELINE_INVALID', `${origin} is not JSON.`, {
      option: '--baseline',
      fix: 'Pass a report written by pgwarden audit --format json.',
    });
  }
  const parsed = baselineSchema.safeParse(data);
  if (!parsed.success) {
    throw new AuditError(
      'PGW_AUDIT_BASELINE_INVALID',
      `${origin} is not a pgwarden audit JSON report (${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}).`,
      {
        option: '--baseline',
        fix: 'Pass a report written by pgwarden audit --format json.',
      },
    );
  }
  const known = new Map<string, Set<string>>();
  for (const finding of parsed.data.findings) {
    if (finding.status !== 'fail') continue;
    const names = known.get(finding.id) ?? new Set<string>();
    for (const o of [...finding.objects, ...(finding.suppressedObjects ?? [])]) names.add(o.name);
    known.set(finding.id, names);
  }
  return known;
}

export function loadBaseline(path: string): Baseline {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AuditError('PGW_AUDIT_BASELINE_INVALID', `Cannot read the baseline ${path}.`, {
      option: '--baseline',
      fix: 'Check the path; write one with pgwarden audit --format json --output FILE.',
      cause: error,
    });
  }
  return parseBaseline(text, path);
}

/** Marks failing findings the baseline had; keeps only new objects of the others. */
export function applyBaseline(findings: readonly Finding[], baseline: Baseline): Finding[] {
  return findings.map((finding) => {
    if (finding.status !== 'fail') return finding;
    const known = baseline.get(finding.id);
    if (!known) return finding;
    const fresh = finding.objects.filter((o) => !known.has(o.name));
    if (fresh.length === 0) return { ...finding, inBaseline: true };
    return { ...finding, objects: fresh };
  });
}

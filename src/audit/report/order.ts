/** The order every human-facing format shows findings in. */
import { AREAS, type Area, type Finding } from '../finding.js';
import { severityRank } from '../severity.js';

const STATUS_ORDER = { fail: 0, error: 1, skip: 2, pass: 3 } as const;

/** Failing first, then errors, skips and passes; within a status, most severe first. */
export function compareFindings(a: Finding, b: Finding): number {
  const rank = (f: Finding): number =>
    f.status === 'fail' && (f.suppressed || f.inBaseline) ? 2.5 : STATUS_ORDER[f.status];
  return rank(a) - rank(b) || severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id);
}

/** Areas with their findings sorted, areas with active failures first. */
export function groupByArea(
  findings: readonly Finding[],
): { area: Area; findings: Finding[]; failing: number }[] {
  const groups = AREAS.map((area) => {
    const list = findings.filter((f) => f.area === area).sort(compareFindings);
    return {
      area,
      findings: list,
      failing: list.filter((f) => f.status === 'fail' && !f.suppressed && !f.inBaseline).length,
    };
  }).filter((g) => g.findings.length > 0);
  return groups.sort(
    (a, b) =>
      (b.failing > 0 ? 1 : 0) - (a.failing > 0 ? 1 : 0) || AREAS.indexOf(a.area) - AREAS.indexOf(b.area),
  );
}

/**
 * A check's references as a report prints them: its CIS recommendations
 * named in the edition for the audited server's version, or a statement that
 * no CIS recommendation covers it, then its documentation links.
 */
import type { CheckDefinition, CisCitation } from './check.js';
import type { CisEdition } from './cis-sections.js';

/** Said of a check that no CIS recommendation covers (and that names no other origin). */
export const OWN_CHECK = "pgwarden's own check (no CIS PostgreSQL Benchmark recommendation covers it)";

/** `CIS PostgreSQL 16 Benchmark v1.1.0 §6.8 Ensure TLS is enabled and configured correctly`. */
export function cisReference(edition: CisEdition, citation: CisCitation): string {
  const title = edition.sections.get(citation.section);
  // Checked for every citation and edition by cis-sections.test.ts; never print a made-up title.
  if (title === undefined) throw new Error(`${edition.name} has no §${citation.section}`);
  return `${edition.name} §${citation.section} ${title}`;
}

export function checkReferences(
  check: Pick<CheckDefinition<unknown>, 'cis' | 'origin' | 'references'>,
  edition: CisEdition,
): string[] {
  const cited = (check.cis ?? [])
    .filter((c) => c.majors === undefined || c.majors.includes(edition.major))
    .map((c) => cisReference(edition, c));
  return [...(cited.length > 0 ? cited : [check.origin ?? OWN_CHECK]), ...check.references];
}

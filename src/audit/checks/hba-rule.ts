/**
 * pg_hba.conf rules as pg_hba_file_rules shows them, and the questions the
 * auth checks ask of them.
 */

export interface HbaRule {
  readonly line: number;
  readonly type: string;
  readonly databases: readonly string[] | null;
  readonly users: readonly string[] | null;
  readonly address: string | null;
  readonly netmask: string | null;
  readonly method: string | null;
  readonly options: readonly string[] | null;
  readonly error: string | null;
  /** Whether a login superuser is matched by the user column (by name, `all` or a `+group`). */
  readonly matchesSuperuser: boolean;
}

export const isHostRule = (rule: HbaRule): boolean => rule.type.startsWith('host');
export const accepts = (rule: HbaRule): boolean => rule.error === null && rule.method !== 'reject';

/** The rule as a pg_hba.conf line, for details and suppressions. */
export function ruleText(rule: HbaRule): string {
  const parts = [rule.type, (rule.databases ?? []).join(','), (rule.users ?? []).join(',')];
  if (rule.address)
    parts.push(rule.netmask ? `${rule.address}/${prefixLength(rule.netmask) ?? rule.netmask}` : rule.address);
  parts.push(rule.method ?? '?');
  if (rule.options && rule.options.length > 0) parts.push(...rule.options);
  return parts.join(' ');
}

export const ruleObject = (rule: HbaRule) => ({
  type: 'hba-rule',
  name: `pg_hba.conf:${rule.line}`,
  value: ruleText(rule),
});

/** Prefix length of an IPv4 or IPv6 netmask, or undefined when it is not a contiguous mask. */
export function prefixLength(netmask: string): number | undefined {
  let bits: number[];
  if (netmask.includes(':')) {
    const [head = '', tail = ''] = netmask.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = netmask.includes('::')
      ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
      : h;
    bits = groups.flatMap((g) =>
      [
        ...parseInt(g || '0', 16)
          .toString(2)
          .padStart(16, '0'),
      ].map(Number),
    );
  } else {
    bits = netmask.split('.').flatMap((o) => [...Number(o).toString(2).padStart(8, '0')].map(Number));
  }
  const ones = bits.indexOf(0) === -1 ? bits.length : bits.indexOf(0);
  return bits.slice(ones).includes(1) ? undefined : ones;
}

/** Why a host rule's address range is too wide, or undefined. IPv4 wider than /16 and IPv6 wider than /48 count. */
export function wideNetwork(rule: HbaRule): string | undefined {
  const address = rule.address ?? '';
  if (address === 'all') return 'it matches every address';
  if (address === 'samenet') return 'it matches every subnet the server is directly connected to';
  if (!rule.netmask) return undefined;
  const prefix = prefixLength(rule.netmask);
  if (prefix === undefined) return undefined;
  const v6 = rule.netmask.includes(':');
  const limit = v6 ? 48 : 16;
  return prefix < limit ? `${address}/${prefix} is wider than /${limit}` : undefined;
}

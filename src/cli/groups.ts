/**
 * The commands that parse their own subcommands (commands/<name>.ts, loaded
 * only when the group is used). main.ts cannot ask them for their
 * subcommands without loading them, so they are named here, and
 * `pgwarden --help` lists every one. test/cli-help.test.ts holds
 * this list against each group's own help.
 */
const SUBCOMMANDS = {
  creds: ['add', 'update', 'list', 'show', 'test', 'remove', 'check', 'rotate', 'generate', 'export'],
  roles: ['plan', 'apply'],
  incident: ['revoke', 'sessions'],
  backup: ['create', 'list', 'verify', 'restore', 'cleanup', 'keygen'],
} as const;

export type GroupName = keyof typeof SUBCOMMANDS;

const SUMMARIES: Readonly<Record<GroupName, string>> = {
  creds: 'Credentials in the OS keychain or an encrypted file',
  roles: 'Least-privilege roles from a YAML file',
  incident: 'Incident response',
  backup: 'Encrypted, compressed, verified backups',
};

/** The description `pgwarden --help` shows for each group: its summary, then every subcommand. */
export const GROUPS = Object.fromEntries(
  Object.entries(SUBCOMMANDS).map(([name, commands]) => [
    name,
    `${SUMMARIES[name as GroupName]}: ${commands.join(', ')}`,
  ]),
) as Readonly<Record<GroupName, string>>;

export function isGroup(name: string): name is GroupName {
  return Object.hasOwn(SUBCOMMANDS, name);
}

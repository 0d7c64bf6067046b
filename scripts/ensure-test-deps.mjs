#!/usr/bin/env node
// `npm test` runs this first. The suite uses real components that it starts
// itself: PostgreSQL server binaries (initdb, postgres, pg_dump …), a Secret
// Service (gnome-keyring inside dbus-run-session) for the OS keychain, and
// headless Chromium for the HTML report. As root on Debian/Ubuntu, whatever is
// missing is installed with apt-get; otherwise the exact command is printed
// and the test run stops.
import { existsSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

function findPgBin() {
  if (process.env.PG_BIN)
    return existsSync(`${process.env.PG_BIN}/postgres`) ? process.env.PG_BIN : undefined;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = `${base}/${major}/bin`;
    if (existsSync(`${bin}/postgres`) && existsSync(`${bin}/initdb`) && existsSync(`${bin}/pg_dump`))
      return bin;
  }
  return undefined;
}

/** The major version of the server binaries found, or Debian 12's default. */
function pgMajor() {
  return findPgBin()?.match(/postgresql\/(\d+)\//)?.[1] ?? '15';
}

const onPath = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** What the suite needs, how to tell it is there, and the Debian packages that provide it. */
const REQUIREMENTS = [
  {
    what: 'PostgreSQL server binaries',
    present: () => findPgBin() !== undefined,
    packages: ['postgresql', 'postgresql-contrib'],
  },
  {
    // The audit's log.pgaudit check needs the extension to prove its passing case.
    what: 'pgaudit extension',
    present: () => existsSync(`/usr/share/postgresql/${pgMajor()}/extension/pgaudit.control`),
    // Debian 12's postgresql is 15; when PostgreSQL is already there, match its major.
    packages: [`postgresql-${pgMajor()}-pgaudit`],
  },
  {
    what: 'gnome-keyring (Secret Service)',
    present: () => onPath('gnome-keyring-daemon'),
    packages: ['gnome-keyring'],
  },
  { what: 'PgBouncer', present: () => existsSync('/usr/sbin/pgbouncer'), packages: ['pgbouncer'] },
  { what: 'dbus-run-session', present: () => onPath('dbus-run-session'), packages: ['dbus'] },
  { what: 'headless Chromium', present: () => onPath('chromium'), packages: ['chromium'] },
];

function run(cmd, args, env = {}) {
  console.log(`ensure-test-deps: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`ensure-test-deps: ${cmd} failed with status ${r.status}`);
    process.exit(1);
  }
}

let missing = REQUIREMENTS.filter((r) => !r.present());
if (missing.length === 0) {
  console.log(`ensure-test-deps: all test dependencies present (PostgreSQL in ${findPgBin()})`);
  process.exit(0);
}

const packages = [...new Set(missing.flatMap((r) => r.packages))];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/usr/bin/apt-get')) {
  // The tests start their own throwaway clusters: Debian's default "main"
  // cluster is not wanted.
  mkdirSync('/etc/postgresql-common', { recursive: true });
  if (!existsSync('/etc/postgresql-common/createcluster.conf')) {
    writeFileSync('/etc/postgresql-common/createcluster.conf', 'create_main_cluster = false\n');
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], env);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], env);
  missing = REQUIREMENTS.filter((r) => !r.present());
  if (missing.length === 0) process.exit(0);
  console.error(`ensure-test-deps: still missing after install: ${missing.map((r) => r.what).join(', ')}`);
  process.exit(1);
}

console.error(`ensure-test-deps: missing ${missing.map((r) => r.what).join(', ')}.
Install them, then run npm test again:
  Debian/Ubuntu:  sudo apt-get install ${packages.join(' ')}
PostgreSQL may also come from elsewhere: point PG_BIN at a directory holding initdb, postgres and pg_dump.`);
process.exit(1);

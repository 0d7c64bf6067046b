#!/usr/bin/env node
// `npm test` runs this first. The suite talks to real PostgreSQL servers that it
// starts itself, so it needs the server binaries (initdb, postgres, pg_dump …).
// As root on Debian/Ubuntu they are installed with apt-get; otherwise the exact
// command to run is printed and the test run stops.
import { existsSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const DEBIAN_PACKAGES = ['postgresql', 'postgresql-contrib'];

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
    if (existsSync(`${bin}/postgres`) && existsSync(`${bin}/initdb`)) return bin;
  }
  return undefined;
}

function run(cmd, args, env = {}) {
  console.log(`ensure-test-deps: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`ensure-test-deps: ${cmd} failed with status ${r.status}`);
    process.exit(1);
  }
}

const bin = findPgBin();
if (bin) {
  console.log(`ensure-test-deps: PostgreSQL server binaries found in ${bin}`);
  process.exit(0);
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/usr/bin/apt-get')) {
  // Install the binaries only: the tests start their own throwaway clusters,
  // so Debian's default "main" cluster is not created.
  mkdirSync('/etc/postgresql-common', { recursive: true });
  if (!existsSync('/etc/postgresql-common/createcluster.conf')) {
    writeFileSync('/etc/postgresql-common/createcluster.conf', 'create_main_cluster = false\n');
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], env);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...DEBIAN_PACKAGES], env);
  if (findPgBin()) process.exit(0);
  console.error('ensure-test-deps: PostgreSQL was installed but its binaries were not found');
  process.exit(1);
}

console.error(`ensure-test-deps: no PostgreSQL server binaries found.
Install them, then run npm test again:
  Debian/Ubuntu:  sudo apt-get install ${DEBIAN_PACKAGES.join(' ')}
  Fedora/RHEL:    sudo dnf install postgresql-server postgresql-contrib
  macOS:          brew install postgresql@15
or point PG_BIN at a directory holding initdb and postgres.`);
process.exit(1);

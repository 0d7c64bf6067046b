import { runDemo, type DemoResult } from '../../demo/demo.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { formatDoctor } from './doctor.js';

/**
 * How to reach and stop what `--keep` left running. No password is printed:
 * it is in the password file (mode 0600) that libpq reads through PGPASSFILE.
 */
export function formatKept(result: DemoResult): string {
  if (result.kept.length === 0) return '';
  const lines = ['', 'Kept running (--keep):'];
  for (const k of result.kept) {
    lines.push(
      `  ${k.name}: PID ${k.pid}, files in ${k.dir}`,
      `    connect: PGPASSFILE=${result.pgpass ?? '?'} psql '${k.url}'`,
    );
  }
  const pids = result.kept.map((k) => k.pid).join(' ');
  const dirs = [...result.kept.map((k) => k.dir), result.dir].join(' ');
  lines.push(
    '  stop:    kill -INT ' + pids + '   (a fast shutdown of each server)',
    `  then:    rm -rf ${dirs}`,
    `  The CA files and the password file (mode 0600) are in ${result.dir}.`,
  );
  return `${lines.join('\n')}\n`;
}

export async function demoCommand(flags: { keep?: boolean }): Promise<number> {
  process.stdout.write(
    'pgwarden demo: a throwaway cluster, a fresh PKI, and the production policy at work\n\n',
  );
  const result = await runDemo({
    keep: flags.keep ?? false,
    onStep: (step) => {
      process.stdout.write(`${step.ok ? '✓' : '✗'} ${step.title}\n    ${step.detail}\n`);
      if (step.doctor) process.stdout.write(`\n${formatDoctor(step.doctor).replace(/^/gm, '    ')}\n`);
    },
  });
  const outcome = result.ok
    ? '✓ demo complete: every step behaved as expected'
    : '✗ demo: a step did not behave as expected';
  const cleanup =
    result.kept.length > 0
      ? `the ${result.kept.length} clusters are still running (below)`
      : 'both clusters were stopped and removed';
  process.stdout.write(
    [
      '',
      `${outcome}; ${cleanup}.`,
      'HTML audit reports:',
      `  before hardening: ${result.reports.before}`,
      `  after hardening:  ${result.reports.after}`,
      '',
    ].join('\n') + formatKept(result),
  );
  return result.ok ? EXIT_OK : EXIT_FAILED;
}

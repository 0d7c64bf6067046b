import { runDemo } from '../../demo/demo.js';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.js';
import { formatDoctor } from './doctor.js';

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
  process.stdout.write(
    `\n${result.ok ? '✓ demo complete: every step behaved as expected' : '✗ demo: a step did not behave as expected'}; the cluster was stopped and removed.\n`,
  );
  return result.ok ? EXIT_OK : EXIT_FAILED;
}

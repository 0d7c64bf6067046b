// Tests import the harness from here; it lives in src/testing/ because it ships
// with pgwarden (the demo command and users' own tests use it too).
export * from '../../src/testing/index.js';
export { assertErrorHasNoSecret, assertNoCanary, canary, recordingLogger } from './canary.js';
export { isProcessAlive, waitForProcessExit } from './process.js';
export { withoutConnectionVariables } from './cli-env.js';
export { until } from './until.js';

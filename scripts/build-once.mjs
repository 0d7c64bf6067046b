#!/usr/bin/env node
// npm's `prepare`: a git install or a fresh clone has no dist/, so build it
// once; an existing build is left alone (npm test and npm pack rebuild).
// A packed tarball ships dist/ and never runs this.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

if (existsSync(new URL('../dist/index.js', import.meta.url))) process.exit(0);
const result = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(result.status ?? 1);

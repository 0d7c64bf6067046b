/**
 * zod, loaded on first use rather than at import: its two hundred modules
 * would otherwise be most of what `import 'pgwarden'` costs an application.
 * Loaded with require() so that the synchronous `new WardenPool()` can
 * validate its options; zod ships a CommonJS build for this. Every module of
 * pgwarden takes zod from here (a lint rule refuses a value import of 'zod'):
 * one that imported it would load zod's ESM build as a second copy beside
 * this one, which cost `backup create` about 40 ms before pg_dump started.
 */
import { createRequire } from 'node:module';
import type * as Zod from 'zod';

let loaded: typeof Zod | undefined;

export function loadZod(): typeof Zod.z {
  loaded ??= createRequire(import.meta.url)('zod') as typeof Zod;
  return loaded.z;
}

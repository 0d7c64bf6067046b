/**
 * node:http and node:https, taken when a request is made instead of imported.
 * An ESM import of node:http builds its module namespace, which reads the
 * module's lazy WebSocket, CloseEvent and MessageEvent getters and so loads
 * undici: 25-40 ms of `import 'pgwarden'` (and of every CLI start) for
 * code that may never talk to Vault. `process.getBuiltinModule` returns the
 * module object itself (Node 20.16+ / 22.3+), with no namespace to build.
 */
export const httpModule = () => process.getBuiltinModule('node:http');
export const httpsModule = () => process.getBuiltinModule('node:https');

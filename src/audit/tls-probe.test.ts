// The probe's bounds and refusals against loopback servers that misbehave at
// the SSLRequest (the agreement with openssl s_client on real PostgreSQL
// servers is test/integration/audit-tls-probe.test.ts), and the verdicts the
// TLS checks draw from partial evidence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { EvalContext } from './check.js';
import { judgeCiphers, judgeMinProtocol } from './checks/tls-observed.js';
import { weakCipherClasses } from './checks/tls.js';
import { CIPHER_CLASSES, PROBED_VERSIONS } from './tls-offers.js';
import { probeServerTls, type ProbeVerdict, type TlsProbeReport } from './tls-probe.js';

async function withServer(
  onData: (socket: Socket, data: Buffer) => void,
  run: (port: number, accepted: () => number) => Promise<void>,
): Promise<void> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', (data) => onData(socket, data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as { port: number }).port, () => connections);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

const target = (port: number, timeoutMs = 2000) => ({ host: '127.0.0.1', port, timeoutMs });

test('a server that answers N costs one connection and offers no TLS', async () => {
  await withServer(
    (socket) => socket.write('N'),
    async (port, accepted) => {
      const report = await probeServerTls(target(port));
      assert.equal(report.status, 'no-tls');
      assert.equal(report.connections, 1);
      assert.equal(accepted(), 1);
    },
  );
});

test('a server that never answers costs one connection and one timeout', async () => {
  await withServer(
    () => undefined,
    async (port, accepted) => {
      const started = performance.now();
      const report = await probeServerTls(target(port, 300));
      assert.equal(report.status, 'failed');
      assert.match(report.reason!, /no answer within 300 ms/);
      assert.equal(report.connections, 1);
      assert.equal(accepted(), 1);
      assert.ok(performance.now() - started < 2000);
      assert.ok(Object.values(report.versions).every((v) => v.kind === 'unknown'));
    },
  );
});

test("bytes after the 'S' answer are refused (CVE-2021-23222), nothing is sent after them", async () => {
  let received = Buffer.alloc(0);
  await withServer(
    (socket, data) => {
      received = Buffer.concat([received, data]);
      socket.on('data', (more: Buffer) => (received = Buffer.concat([received, more])));
      socket.write(Buffer.from('Sinjected'));
    },
    async (port) => {
      const report = await probeServerTls(target(port));
      assert.equal(report.status, 'failed');
      assert.match(report.reason!, /data after its 'S'/);
      // Only the SSLRequest went out: no ClientHello, no StartupMessage.
      assert.deepEqual([...received], [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    },
  );
});

test('a server that speaks no TLS after S stops the probe at the first connection', async () => {
  await withServer(
    (socket) => {
      socket.write('S');
      socket.once('data', () => socket.end('not a TLS record'));
    },
    async (port, accepted) => {
      const report = await probeServerTls(target(port));
      assert.equal(report.status, 'failed');
      assert.equal(accepted(), 1);
    },
  );
});

// The verdicts on partial evidence.
function report(versions: Partial<Record<string, ProbeVerdict>>, classVerdict: ProbeVerdict): TlsProbeReport {
  const refused: ProbeVerdict = { kind: 'refused', reason: 'alert "protocol version"' };
  return {
    status: 'probed',
    versions: Object.fromEntries(
      PROBED_VERSIONS.map((v) => [v, versions[v] ?? refused]),
    ) as TlsProbeReport['versions'],
    classes: CIPHER_CLASSES.map((cipherClass) => ({ cipherClass, verdict: classVerdict })),
    chain: [],
    connections: 8,
    localPorts: [],
    runtime: 'Node vX with OpenSSL Y',
  };
}
const context = {
  config: { host: 'db.example', port: 5432 },
  privileges: { role: 'app' },
} as unknown as EvalContext;
const tls13: ProbeVerdict = { kind: 'accepted', protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };
const unknown: ProbeVerdict = { kind: 'unknown', reason: 'no answer within 10 ms' };

test('an unobserved old version never passes without the setting; the setting decides it when readable', () => {
  const probe = report({ 'TLSv1.3': tls13, TLSv1: unknown }, { kind: 'refused', reason: 'x' });
  const hidden = judgeMinProtocol(
    { probe, minProtocol: undefined, ciphers: undefined, pooler: undefined },
    context,
  );
  assert.equal(hidden.status, 'skip');
  assert.match(hidden.detail, /Could not tell .*\(TLS 1\.0: no answer within 10 ms\)/);
  assert.ok(hidden.status === 'skip' && hidden.enable?.includes('pg_read_all_settings'));
  const low = judgeMinProtocol(
    { probe, minProtocol: 'TLSv1', ciphers: undefined, pooler: undefined },
    context,
  );
  assert.equal(low.status, 'fail');
  assert.match(low.detail, /not observed: TLS 1\.0: no answer/);
  const high = judgeMinProtocol(
    { probe, minProtocol: 'TLSv1.2', ciphers: undefined, pooler: undefined },
    context,
  );
  assert.equal(high.status, 'pass');
});

test('an unobserved cipher class never passes; untestable ones are named, not counted as refused', () => {
  const unsure = judgeCiphers(
    {
      probe: report({ 'TLSv1.3': tls13 }, unknown),
      minProtocol: undefined,
      ciphers: undefined,
      pooler: undefined,
    },
    context,
    weakCipherClasses,
  );
  assert.equal(unsure.status, 'skip');
  const untestable = judgeCiphers(
    {
      probe: report({ 'TLSv1.3': tls13 }, { kind: 'untestable', reason: 'no such suites' }),
      minProtocol: undefined,
      ciphers: undefined,
      pooler: undefined,
    },
    context,
    weakCipherClasses,
  );
  assert.equal(untestable.status, 'skip');
  assert.match(
    untestable.detail,
    /Not tested: NULL-encryption suites, .* \(Node vX with OpenSSL Y has no such suites/,
  );
});

test('without a probe (unix socket) the settings decide, and say they were not observed', () => {
  const skipped: TlsProbeReport = {
    ...report({}, unknown),
    status: 'skipped',
    reason: 'the server is reached over a unix socket',
  };
  const byText = judgeCiphers(
    { probe: skipped, minProtocol: 'TLSv1.2', ciphers: 'HIGH:MEDIUM:+3DES:!aNULL', pooler: undefined },
    context,
    weakCipherClasses,
  );
  assert.equal(byText.status, 'fail');
  assert.match(
    byText.detail,
    /enables MEDIUM, 3DES \(not observed: the server is reached over a unix socket\)/,
  );
  const noSetting = judgeMinProtocol(
    { probe: skipped, minProtocol: undefined, ciphers: undefined, pooler: undefined },
    context,
  );
  assert.equal(noSetting.status, 'skip');
  assert.match(noSetting.detail, /unix socket/);
});

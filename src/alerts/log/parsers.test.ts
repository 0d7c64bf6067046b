// The log parsers on real PostgreSQL 15 logs (see fixtures/README.md for how they were made).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvLog, parseCsvRecords } from './csv-log.js';
import { parseJsonLog } from './json-log.js';
import { detectLogFormat, readLogFile } from './read-log.js';
import { isLocal, securityEvents, type SecurityEvent } from './security-events.js';
import { compileLinePrefix, parseStderrLog } from './stderr-log.js';
import { parseLogTimestamp } from './timestamp.js';
import type { ParsedLog } from './log-entry.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (variant: string, file: string): string =>
  readFileSync(join(FIXTURES, variant, file), 'utf8');

const PREFIXES: Record<string, string> = {
  default: '%m [%p] ',
  debian: '%m [%p] %q%u@%d ',
  pgbadger: '%t [%p]: user=%u,db=%d,app=%a,client=%h ',
  nopid: '%m ',
};

function tally(events: readonly SecurityEvent[]) {
  const tcp = events.filter((e) => !isLocal(e.host));
  return {
    authFailed: tcp.filter((e) => e.kind === 'auth-failed').map((e) => e.kind === 'auth-failed' && e.user),
    plainSessions: tcp.filter((e) => e.kind === 'connection-authorized' && !e.encrypted).length,
    tlsSessions: tcp.filter((e) => e.kind === 'connection-authorized' && e.encrypted).length,
    plainRejected: tcp
      .filter((e) => e.kind === 'hba-rejected' && !e.encrypted)
      .map((e) => e.kind === 'hba-rejected' && e.user),
    tlsRejected: tcp
      .filter((e) => e.kind === 'hba-rejected' && e.encrypted)
      .map((e) => e.kind === 'hba-rejected' && e.user),
    localSessions: events.filter((e) => e.kind === 'connection-authorized' && isLocal(e.host)).length,
    preStartup: tcp.filter((e) => e.kind === 'pre-startup').length,
  };
}

/** What every capture holds (fixtures/README.md). */
function assertCapture(parsed: ParsedLog): void {
  const { events, connectionLines, unknownOrigin } = securityEvents(parsed.entries);
  assert.deepEqual(tally(events), {
    authFailed: ['app', 'app'],
    plainSessions: 1,
    tlsSessions: 1,
    plainRejected: ['sslonly'],
    tlsRejected: ['other'],
    localSessions: 3,
    // Every TCP connection of these captures reached a login outcome.
    preStartup: 0,
  });
  assert.equal(unknownOrigin, 0);
  assert.ok(connectionLines >= 9);
  assert.equal(parsed.unparsed, 0);
  assert.ok(parsed.entries.every((e) => e.time?.zoneKnown === true));
  const times = parsed.entries.map((e) => e.time!.ms);
  assert.ok(
    times.every((t, i) => i === 0 || t >= times[i - 1]!),
    'timestamps in order',
  );
}

describe('stderr', () => {
  for (const variant of ['default', 'debian', 'pgbadger']) {
    test(`${variant} prefix, compiled from log_line_prefix`, () => {
      assertCapture(parseStderrLog(fixture(variant, 'stderr.log'), { linePrefix: PREFIXES[variant] }));
    });
    test(`${variant} prefix, heuristic (prefix unknown)`, () => {
      assertCapture(parseStderrLog(fixture(variant, 'stderr.log')));
    });
  }

  test('the compiled prefix captures user, database, client and pid', () => {
    const parsed = parseStderrLog(fixture('pgbadger', 'stderr.log'), { linePrefix: PREFIXES.pgbadger });
    const failed = parsed.entries.find((e) => e.severity === 'FATAL')!;
    assert.equal(failed.user, 'app');
    assert.equal(failed.database, 'postgres');
    assert.equal(failed.remoteHost, '127.0.0.1');
    assert.ok(failed.pid! > 0);
    // %t has no milliseconds and log_timezone Etc/GMT+5 prints "-05".
    assert.equal(failed.time!.ms % 1000, 0);
  });

  test('a multi-line statement continues the previous entry', () => {
    const parsed = parseStderrLog(fixture('default', 'stderr.log'), { linePrefix: PREFIXES.default });
    const statement = parsed.entries.find((e) => e.severity === 'STATEMENT')!;
    assert.equal(statement.message, "SELECT 'multi\nline' AS x, 1/0");
  });

  test('without %p, sessions cannot be placed and the zone (IST) is ambiguous', () => {
    const parsed = parseStderrLog(fixture('nopid', 'stderr.log'), { linePrefix: PREFIXES.nopid });
    assert.equal(parsed.unparsed, 0);
    assert.ok(parsed.entries.every((e) => e.time?.zoneKnown === false));
    const { events, unknownOrigin } = securityEvents(parsed.entries);
    assert.equal(unknownOrigin, 5);
    assert.equal(events.filter((e) => e.kind === 'auth-failed').length, 2);
    // Refusals name their host in the message itself.
    assert.equal(events.filter((e) => e.kind === 'hba-rejected' && !e.encrypted).length, 1);
  });

  test('compileLinePrefix handles %q, padding, %% and repeated escapes', () => {
    const re = compileLinePrefix('%m [%p] %q%-10u %% %u@%d ');
    const session = re.exec('2025-01-31 10:00:00.123 UTC [42] app        % app@db FATAL:  boom')!.groups!;
    assert.equal(session.pid, '42');
    assert.equal(session.user, 'app');
    assert.equal(session.db, 'db');
    assert.equal(session.message, 'boom');
    const postmaster = re.exec('2025-01-31 10:00:00.123 UTC [7] LOG:  ready')!.groups!;
    assert.equal(postmaster.pid, '7');
    assert.equal(postmaster.severity, 'LOG');
  });

  test('lines of another program are counted as unparsed, not guessed', () => {
    const parsed = parseStderrLog('random text\n2025-01-01 00:00:00 UTC [1] LOG:  ok\n');
    assert.equal(parsed.unparsed, 1);
    assert.equal(parsed.entries.length, 1);
  });
});

describe('csvlog', () => {
  for (const variant of ['default', 'debian']) {
    test(`${variant}`, () => assertCapture(parseCsvLog(fixture(variant, 'csvlog.csv'))));
  }

  test('records with quoted commas, quotes and newlines', () => {
    assert.deepEqual(parseCsvRecords('a,"b,c","d ""e""",\n"multi\nline",x\r\n'), [
      ['a', 'b,c', 'd "e"', ''],
      ['multi\nline', 'x'],
    ]);
    const parsed = parseCsvLog(fixture('default', 'csvlog.csv'));
    const failed = parsed.entries.find((e) => e.severity === 'FATAL')!;
    assert.equal(failed.remoteHost, '127.0.0.1');
    assert.equal(failed.message, 'password authentication failed for user "app"');
  });
});

describe('jsonlog', () => {
  for (const variant of ['default', 'debian']) {
    test(`${variant}`, () => assertCapture(parseJsonLog(fixture(variant, 'jsonlog.jsonl'))));
  }
  test('a broken line is unparsed, the rest is read', () => {
    const parsed = parseJsonLog(
      '{"timestamp":"2025-01-01 00:00:00 UTC","error_severity":"LOG","message":"x"}\n{oops\n',
    );
    assert.equal(parsed.entries.length, 1);
    assert.equal(parsed.unparsed, 1);
  });
});

describe('format detection and reading', () => {
  test('by extension, then by the first line', () => {
    assert.equal(detectLogFormat('x.csv', ''), 'csvlog');
    assert.equal(detectLogFormat('x.json', ''), 'jsonlog');
    assert.equal(detectLogFormat('x.log', fixture('default', 'jsonlog.jsonl')), 'jsonlog');
    assert.equal(detectLogFormat('x.log', fixture('debian', 'csvlog.csv')), 'csvlog');
    assert.equal(detectLogFormat('x.log', fixture('debian', 'stderr.log')), 'stderr');
  });

  test('readLogFile reads only the tail of a large file and drops the cut line', () => {
    const path = join(FIXTURES, 'default', 'stderr.log');
    const whole = readLogFile(path, { linePrefix: PREFIXES.default });
    const tail = readLogFile(path, { linePrefix: PREFIXES.default, maxBytes: 600 });
    assert.equal(whole.truncated, false);
    assert.equal(tail.truncated, true);
    assert.ok(tail.entries.length > 0 && tail.entries.length < whole.entries.length);
    assert.equal(tail.unparsed, 0);
    assert.deepEqual(tail.entries.at(-1), whole.entries.at(-1));
  });

  test('a missing file is a coded error naming --log', () => {
    assert.throws(
      () => readLogFile(join(FIXTURES, 'no-such.log')),
      (error: Error & { code?: string; option?: string }) =>
        error.code === 'PGW_ALERTS_INPUT_UNREADABLE' &&
        error.option === '--log' &&
        /ENOENT/.test(error.message),
    );
  });
});

describe('timestamps', () => {
  test('known zones, numeric offsets, and unknown abbreviations', () => {
    const utc = Date.UTC(2025, 0, 31, 10, 0, 0, 123);
    assert.deepEqual(parseLogTimestamp('2025-01-31 10:00:00.123 UTC'), { ms: utc, zoneKnown: true });
    assert.deepEqual(parseLogTimestamp('2025-01-31 11:00:00.123 CET'), { ms: utc, zoneKnown: true });
    assert.deepEqual(parseLogTimestamp('2025-01-31 05:00:00.123 -05'), { ms: utc, zoneKnown: true });
    assert.deepEqual(parseLogTimestamp('2025-01-31 15:30:00.123 +0530'), { ms: utc, zoneKnown: true });
    assert.deepEqual(parseLogTimestamp('2025-01-31 10:00:00.123 IST'), { ms: utc, zoneKnown: false });
    assert.deepEqual(parseLogTimestamp('2025-01-31 10:00:00'), { ms: utc - 123, zoneKnown: false });
    assert.equal(parseLogTimestamp('yesterday'), undefined);
  });
});

describe("the audit's TLS probe in a real log (fixtures/probe)", () => {
  const parsers: Record<string, () => ParsedLog> = {
    stderr: () => parseStderrLog(fixture('probe', 'stderr.log'), { linePrefix: PREFIXES.debian }),
    csvlog: () => parseCsvLog(fixture('probe', 'csvlog.csv')),
    jsonlog: () => parseJsonLog(fixture('probe', 'jsonlog.jsonl')),
  };
  for (const [format, parse] of Object.entries(parsers)) {
    test(`${format}: the 8 probe connections are pre-startup; the real failed login and plaintext session still count`, () => {
      const parsed = parse();
      assert.equal(parsed.unparsed, 0);
      const { events } = securityEvents(parsed.entries);
      const early = events.filter((e) => e.kind === 'pre-startup');
      assert.equal(early.length, 8);
      assert.ok(early.every((e) => e.host === '127.0.0.1'));
      // Refused handshakes name the reason; accepted ones closed cleanly and left only "connection received".
      assert.deepEqual(
        early.map((e) => (e.kind === 'pre-startup' ? (e.tlsRefused ?? 'closed') : '')).sort(),
        [
          'closed',
          'closed',
          'closed',
          'no shared cipher',
          'no shared cipher',
          'no shared cipher',
          'unsupported protocol',
          'unsupported protocol',
        ],
      );
      assert.deepEqual(tally(events), {
        authFailed: ['app'],
        plainSessions: 1,
        tlsSessions: 0,
        plainRejected: [],
        tlsRejected: [],
        localSessions: 2,
        preStartup: 8,
      });
    });
  }

  test('a reused pid ends the earlier connection; trailing ones count at the end', () => {
    const line = (pid: number, message: string) => `2026-01-01 00:00:00.000 UTC [${pid}] LOG:  ${message}`;
    const parsed = parseStderrLog(
      [
        line(10, 'connection received: host=10.0.0.1 port=1'),
        line(10, 'connection received: host=10.0.0.2 port=2'),
        line(10, 'connection authorized: user=app database=app'),
        line(11, 'connection received: host=10.0.0.3 port=3'),
        line(12, 'connection received: host=[local]'),
      ].join('\n') + '\n',
      { linePrefix: PREFIXES.default },
    );
    const early = securityEvents(parsed.entries).events.filter((e) => e.kind === 'pre-startup');
    assert.deepEqual(
      early.map((e) => e.host),
      ['10.0.0.1', '10.0.0.3'],
    );
  });
});

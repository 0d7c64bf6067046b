import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_ALERTS_CONFIG,
  loadAlertsConfigFile,
  resolveAlertsConfig,
  validateAlertsLayer,
} from './config.js';

const coded =
  (code: string, pattern: RegExp, option?: string) =>
  (error: Error & { code?: string; option?: string }): boolean =>
    error.code === code && pattern.test(error.message) && (option === undefined || error.option === option);

describe('alerts config', () => {
  test('defaults are the guidelines thresholds', () => {
    const r = DEFAULT_ALERTS_CONFIG.rules;
    assert.deepEqual(
      [
        r['auth-failures'].threshold,
        r['auth-failures'].windowMs,
        r['unencrypted-connections'].threshold,
        r['slow-queries'].thresholdMs,
        r['server-certificate'].days,
        r['credentials-expiry'].days,
        r['backup-age'].maxAgeMs,
      ],
      [5, 300_000, 1, 5_000, 30, 14, 93_600_000],
    );
  });

  test('later layers win key by key; durations become milliseconds', () => {
    const config = resolveAlertsConfig(
      { label: 'a', rules: { 'auth-failures': { threshold: 7, window: '10m' } }, webhook: { timeout: '2s' } },
      { rules: { 'auth-failures': { threshold: 9 }, 'backup-age': { maxAge: '2d', severity: 'warning' } } },
    );
    assert.equal(config.label, 'a');
    assert.equal(config.rules['auth-failures'].threshold, 9);
    assert.equal(config.rules['auth-failures'].windowMs, 600_000);
    assert.equal(config.rules['backup-age'].maxAgeMs, 172_800_000);
    assert.equal(config.rules['backup-age'].severity, 'warning');
    assert.equal(config.webhookTimeoutMs, 2_000);
    assert.equal(config.rules['slow-queries'].thresholdMs, 5_000);
  });

  test('misspelled keys and bad values are refused with their path', () => {
    assert.throws(
      () => validateAlertsLayer({ rules: { 'auth-failures': { treshold: 3 } } }, 'alerts.yaml'),
      coded('PGW_ALERTS_CONFIG_INVALID', /alerts\.yaml is invalid: rules\.auth-failures: .*treshold/),
    );
    assert.throws(
      () => validateAlertsLayer({ rules: { 'slow-queries': { threshold: 5 } } }, 'alerts.yaml'),
      coded('PGW_ALERTS_CONFIG_INVALID', /rules\.slow-queries\.threshold/, 'rules.slow-queries.threshold'),
    );
    assert.throws(
      () => validateAlertsLayer({ rules: { 'backup-age': { maxAge: '26' } } }, 'x'),
      coded('PGW_ALERTS_CONFIG_INVALID', /a duration with a unit/),
    );
    assert.throws(
      () => validateAlertsLayer({ rules: { nope: {} } }, 'x'),
      coded('PGW_ALERTS_CONFIG_INVALID', /nope/),
    );
    assert.throws(
      () => validateAlertsLayer({ webhook: { url: 'https://x' } }, 'x'),
      coded('PGW_ALERTS_CONFIG_INVALID', /url/),
    );
  });

  test('YAML files: relative paths resolve from the file; syntax errors give the position', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgw-alerts-config-'));
    try {
      const good = join(dir, 'alerts.yaml');
      writeFileSync(good, 'log:\n  files: logs/pg.csv\nbackupDir: ../backups\n');
      const layer = loadAlertsConfigFile(good);
      assert.deepEqual(layer.log?.files, [join(dir, 'logs/pg.csv')]);
      assert.equal(layer.backupDir, join(dir, '../backups'));

      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'rules:\n  auth-failures: [\n');
      assert.throws(
        () => loadAlertsConfigFile(bad),
        coded('PGW_ALERTS_CONFIG_INVALID', /not valid YAML \(line \d+, column \d+\)/),
      );
      assert.throws(
        () => loadAlertsConfigFile(join(dir, 'missing.yaml')),
        coded('PGW_ALERTS_INPUT_UNREADABLE', /ENOENT/, '--config'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('${NAME} and ${NAME:-default} come from the environment; unset ones are a coded error naming key and variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgw-alerts-vars-'));
    try {
      const file = join(dir, 'alerts.yaml');
      writeFileSync(
        file,
        [
          'label: ${LABEL:-orders}',
          'log:',
          "  files: ['${PGLOG}/postgresql.csv', '$${literal}/a$b.csv']",
          'backupDir: ${BACKUP_DIR:-/var/backups/orders}',
          'rules:',
          '  auth-failures: { threshold: 5 }',
          '',
        ].join('\n'),
      );
      const layer = loadAlertsConfigFile(file, { PGLOG: '/srv/pg/log', BACKUP_DIR: '' });
      assert.equal(layer.label, 'orders');
      assert.deepEqual(layer.log?.files, ['/srv/pg/log/postgresql.csv', join(dir, '${literal}/a$b.csv')]);
      // Empty counts as unset, as with the shell's :-.
      assert.equal(layer.backupDir, '/var/backups/orders');
      assert.equal(loadAlertsConfigFile(file, { PGLOG: 'logs', BACKUP_DIR: 'b' }).backupDir, join(dir, 'b'));
      assert.deepEqual(
        loadAlertsConfigFile(file, { PGLOG: 'logs' }).log?.files?.[0],
        join(dir, 'logs/postgresql.csv'),
      );

      for (const env of [{}, { PGLOG: '' }]) {
        assert.throws(
          () => loadAlertsConfigFile(file, env),
          coded(
            'PGW_ALERTS_CONFIG_INVALID',
            /log\.files\.0 uses \$\{PGLOG\}, which is not set/,
            'log.files.0',
          ),
        );
      }
      writeFileSync(file, 'backupDir: ${BACKUP DIR}\n');
      assert.throws(
        () => loadAlertsConfigFile(file, {}),
        coded(
          'PGW_ALERTS_CONFIG_INVALID',
          /backupDir refers to "\$\{BACKUP DIR\}", which is not a variable name/,
        ),
      );
      writeFileSync(file, 'backupDir: ${BACKUP_DIR\n');
      assert.throws(
        () => loadAlertsConfigFile(file, { BACKUP_DIR: '/b' }),
        coded('PGW_ALERTS_CONFIG_INVALID', /backupDir has a "\$\{" without its "\}"/),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

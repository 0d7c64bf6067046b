import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatConfValue, normalizeConf, renderPostgresConf } from './postgres-conf.js';

describe('postgresql.conf values', () => {
  test('booleans, numbers and strings are written the way the server parses them', () => {
    assert.equal(formatConfValue(true), 'on');
    assert.equal(formatConfValue(false), 'off');
    assert.equal(formatConfValue(100), '100');
    assert.equal(formatConfValue(0.5), '0.5');
    assert.equal(formatConfValue('16MB'), "'16MB'");
    assert.equal(formatConfValue("it's"), "'it''s'");
    assert.equal(formatConfValue('C:\\dir'), "'C:\\\\dir'");
  });

  test('values that could inject another line are refused', () => {
    assert.throws(() => formatConfValue("x'\nfsync = off"), { code: 'PGW_CONFIG_INVALID' });
    assert.throws(() => formatConfValue(Number.NaN), { code: 'PGW_CONFIG_INVALID' });
  });

  test('names are checked, lower-cased, and the harness keeps its own settings', () => {
    assert.deepEqual(
      [...normalizeConf({ Work_Mem: '8MB', 'auto_explain.log_min_duration': 0 })],
      [
        ['work_mem', '8MB'],
        ['auto_explain.log_min_duration', 0],
      ],
    );
    assert.throws(() => normalizeConf({ 'work_mem = 1\nfsync': 1 }), { code: 'PGW_CONFIG_INVALID' });
    for (const reserved of [
      'port',
      'PORT',
      'listen_addresses',
      'unix_socket_directories',
      'data_directory',
    ]) {
      assert.throws(() => normalizeConf({ [reserved]: 1 }), { option: `conf.${reserved.toLowerCase()}` });
    }
  });

  test('caller settings come after the harness settings, so they win', () => {
    const text = renderPostgresConf('#initdb', new Map([['fsync', false]]), new Map([['fsync', true]]));
    assert.ok(text.startsWith('#initdb\n'));
    assert.ok(text.indexOf('fsync = off') < text.indexOf('fsync = on'));
  });
});

// Every CIS reference of every check, held against the table of the editions'
// recommendation numbers and titles (cis-sections.ts): the number exists in
// the edition a report names, and its title is the control the check cites.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_CATALOG } from './catalog.js';
import { CIS_EDITIONS, cisEditionFor } from './cis-sections.js';
import { checkReferences, OWN_CHECK } from './references.js';

const check = (id: string) => {
  const found = CHECK_CATALOG.find((c) => c.id === id);
  assert.ok(found, id);
  return found;
};

test('the editions: 14 v1.2.0, 15 v1.2.0, 16 v1.1.0 and 17 v1.0.0 share one numbering', () => {
  assert.deepEqual(
    CIS_EDITIONS.map((e) => e.name),
    [
      'CIS PostgreSQL 14 Benchmark v1.2.0',
      'CIS PostgreSQL 15 Benchmark v1.2.0',
      'CIS PostgreSQL 16 Benchmark v1.1.0',
      'CIS PostgreSQL 17 Benchmark v1.0.0',
    ],
  );
  const [v14, v15, v16, v17] = CIS_EDITIONS;
  assert.equal(v16!.sections.size, 71);
  assert.deepEqual([...v14!.sections], [...v16!.sections]);
  assert.deepEqual([...v15!.sections], [...v16!.sections]);
  assert.deepEqual([...v17!.sections.keys()], [...v16!.sections.keys()]);
  const differing = [...v16!.sections]
    .filter(([id, title]) => v17!.sections.get(id) !== title)
    .map(([id]) => id);
  assert.deepEqual(differing, ['3.1.13', '6.9']);
  // A few numbers that moved from the CIS 16 v1.0.0 layout, as the current editions have them.
  assert.equal(
    v16!.sections.get('5.3'),
    'Ensure login via "local" UNIX Domain Socket is configured correctly',
  );
  assert.equal(v16!.sections.get('5.4'), 'Ensure login via "host" TCP/IP Socket is configured correctly');
  assert.equal(v16!.sections.get('4.3'), 'Ensure excessive administrative privileges are revoked');
  assert.equal(v16!.sections.get('4.8'), 'Ensure the set_user extension is installed');
  assert.equal(v16!.sections.get('4.9'), 'Make use of predefined roles');
  assert.equal(v16!.sections.get('6.9'), 'Ensure the TLSv1.0 and TLSv1.1 Protocols are Disabled');
  assert.equal(v17!.sections.get('6.9'), 'Ensure that TLSv1.3, or later, is configured');
  assert.equal(v16!.sections.get('5.9'), undefined, 'section 5 ends at 5.6');
});

test('a report names the edition for the server major, else the newest one', () => {
  assert.deepEqual(
    [14, 15, 16, 17].map((m) => [cisEditionFor(m).edition.name, cisEditionFor(m).forServer]),
    [
      ['CIS PostgreSQL 14 Benchmark v1.2.0', true],
      ['CIS PostgreSQL 15 Benchmark v1.2.0', true],
      ['CIS PostgreSQL 16 Benchmark v1.1.0', true],
      ['CIS PostgreSQL 17 Benchmark v1.0.0', true],
    ],
  );
  for (const major of [13, 18, undefined]) {
    assert.deepEqual(
      { name: cisEditionFor(major).edition.name, forServer: cisEditionFor(major).forServer },
      { name: 'CIS PostgreSQL 17 Benchmark v1.0.0', forServer: false },
    );
  }
});

test('every CIS citation exists in each edition it is cited in, with the control it names', () => {
  let cited = 0;
  for (const c of CHECK_CATALOG) {
    for (const citation of c.cis ?? []) {
      for (const edition of CIS_EDITIONS) {
        if (citation.majors && !citation.majors.includes(edition.major)) continue;
        const title = edition.sections.get(citation.section);
        assert.ok(title, `${c.id}: ${edition.name} has no §${citation.section}`);
        assert.ok(
          title.toLowerCase().includes(citation.control.toLowerCase()),
          `${c.id}: ${edition.name} §${citation.section} is "${title}", not "${citation.control}"`,
        );
        cited++;
      }
    }
  }
  assert.ok(cited > 100, `${cited} citations checked`);
});

test('a check no CIS recommendation covers says so (or names its origin)', () => {
  for (const edition of CIS_EDITIONS) {
    for (const c of CHECK_CATALOG) {
      const references = checkReferences(c, edition);
      const cis = references.filter((r) => r.startsWith('CIS PostgreSQL'));
      if (cis.length === 0) assert.equal(references[0], c.origin ?? OWN_CHECK, c.id);
      for (const r of cis) assert.ok(r.startsWith(`${edition.name} §`), `${c.id}: ${r}`);
      assert.ok(!references.some((r) => /CIS PostgreSQL 16 Benchmark v1\.0\.0/.test(r)), c.id);
    }
  }
  // The sections the first layout cited but no current edition has.
  for (const id of [
    'auth.timeout',
    'pw.encryption',
    'pw.md5-hashes',
    'priv.public-schema-create',
    'ext.risky',
  ]) {
    assert.deepEqual(check(id).cis ?? [], [], id);
  }
});

test('net.listen-all and role.no-connection-limit cite the recommendations that cover them', () => {
  const v16 = cisEditionFor(16).edition;
  assert.deepEqual(checkReferences(check('net.listen-all'), v16).slice(0, 1), [
    'CIS PostgreSQL 16 Benchmark v1.1.0 §5.2 Ensure PostgreSQL is Bound to an IP Address',
  ]);
  assert.deepEqual(checkReferences(check('role.no-connection-limit'), v16).slice(0, 1), [
    'CIS PostgreSQL 16 Benchmark v1.1.0 §5.5 Ensure per-account connection limits are used',
  ]);
});

test('tls.min-protocol cites 6.9 only where 6.9 asks for what it checks (TLS 1.0 and 1.1 off)', () => {
  const cites69 = (major: number) =>
    checkReferences(check('tls.min-protocol'), cisEditionFor(major).edition).some((r) => r.includes('§6.9'));
  assert.deepEqual([14, 15, 16, 17].map(cites69), [true, true, true, false]);
});

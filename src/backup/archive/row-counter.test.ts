// The archive row counter against archives laid out as pg_dump writes them
// (versions 1.14 to 1.16), fed whole and in pieces of every small size so
// that each integer, string and end-of-copy marker straddles buffers; large
// objects skipped; compressed or unreadable archives reported before any
// data; damage after the table of contents an error. Real pg_dump output is
// counted by test/integration/backup*.test.ts against count(*).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArchiveFormatError, ArchiveRowCounter } from './row-counter.js';

interface Table {
  schema: string;
  name: string;
  rows: string[];
}

/** A custom-format archive as pg_dump writes it to a pipe: header, TOC, data blocks. */
function archive(
  minor: number,
  tables: Table[],
  options: { compressed?: boolean; blobs?: Buffer[] } = {},
): Buffer {
  const out: Buffer[] = [];
  const int = (v: number) => {
    const b = Buffer.alloc(5);
    b[0] = v < 0 ? 1 : 0;
    b.writeUInt32LE(Math.abs(v), 1);
    out.push(b);
  };
  const str = (s: string | null) => {
    if (s === null) return int(-1);
    const bytes = Buffer.from(s);
    int(bytes.length);
    out.push(bytes);
  };
  out.push(Buffer.from('PGDMP'), Buffer.from([1, minor, 0, 4, 8, 1]));
  if (minor >= 15) out.push(Buffer.from([options.compressed ? 1 : 0]));
  else int(options.compressed ? 6 : 0);
  for (const v of [1, 2, 3, 4, 5, 126, 0]) int(v);
  str('app');
  str('15.18');
  str('15.18');
  const entries = [
    {
      desc: 'ENCODING',
      tag: 'ENCODING',
      namespace: null as string | null,
      defn: "SET client_encoding = 'UTF8';\n",
    },
    ...tables.flatMap((t) => [
      { desc: 'TABLE', tag: t.name, namespace: t.schema, defn: `CREATE TABLE ${t.name} (x text);\n` },
      { desc: 'TABLE DATA', tag: t.name, namespace: t.schema, defn: '' },
    ]),
    ...(options.blobs ? [{ desc: 'BLOBS', tag: 'BLOBS', namespace: null, defn: '' }] : []),
  ];
  int(entries.length);
  entries.forEach((e, i) => {
    int(i + 1); // dumpId
    int(e.desc === 'TABLE DATA' || e.desc === 'BLOBS' ? 1 : 0);
    str('1259');
    str(String(16384 + i));
    str(e.tag);
    str(e.desc);
    int(e.desc === 'TABLE DATA' ? 3 : 2);
    str(e.defn);
    str('');
    str(e.desc === 'TABLE DATA' ? `COPY ${e.tag} (x) FROM stdin;\n` : '');
    str(e.namespace);
    str('');
    str(e.desc === 'TABLE' ? 'heap' : '');
    if (minor >= 16) int(e.desc === 'TABLE' ? 114 : 0);
    str('owner');
    str('false');
    if (i > 0) str(String(i)); // a dependency
    str(null);
    out.push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0])); // offset: flag + 8 bytes
  });
  entries.forEach((e, i) => {
    if (e.desc === 'TABLE DATA') {
      out.push(Buffer.from([1]));
      int(i + 1);
      const table = tables.find((t) => t.name === e.tag)!;
      for (const row of [...table.rows, '\\.\n\n\n']) {
        int(Buffer.byteLength(row));
        out.push(Buffer.from(row));
      }
      int(0);
    } else if (e.desc === 'BLOBS') {
      out.push(Buffer.from([3]));
      int(i + 1);
      options.blobs!.forEach((blob, k) => {
        int(70000 + k);
        int(blob.length);
        out.push(blob);
        int(0);
      });
      int(0);
    }
  });
  return Buffer.concat(out);
}

function count(bytes: Buffer, pieceSize?: number): ArchiveRowCounter {
  const counter = new ArchiveRowCounter();
  if (pieceSize === undefined) counter.write(bytes);
  else for (let at = 0; at < bytes.length; at += pieceSize) counter.write(bytes.subarray(at, at + pieceSize));
  counter.end();
  return counter;
}

function rows(counter: ArchiveRowCounter): Record<string, number> {
  return Object.fromEntries(
    (counter.tables ?? []).map((t) => [`${t.schema}.${t.name}`, counter.rowsOf(t.dumpId)]),
  );
}

const TABLES: Table[] = [
  // Escaped newlines and tabs are text, not rows; a five-byte row looks like the end-of-copy piece in length only.
  { schema: 'public', name: 'notes', rows: ['1\tline one\\nline two\n', '2\t\\\\.\n', 'abcd\n', '4\t\\N\n'] },
  { schema: 'app', name: 'empty', rows: [] },
  {
    schema: 'app',
    name: 'wide',
    rows: Array.from({ length: 300 }, (_, i) => `${i}\t${'x'.repeat(i * 7)}\n`),
  },
  { schema: 'Mixed Case', name: 'naïve "quoted"', rows: ['é\n', '\n'] },
];
const EXPECTED = { 'public.notes': 4, 'app.empty': 0, 'app.wide': 300, 'Mixed Case.naïve "quoted"': 2 };

test('versions 1.14, 1.15 and 1.16: the rows of every table, whole and in pieces of 1 to 13 bytes', () => {
  for (const minor of [14, 15, 16]) {
    const bytes = archive(minor, TABLES, {
      blobs: [Buffer.from('a large object\nwith newlines\n\n'), Buffer.alloc(5, 10)],
    });
    assert.deepEqual(rows(count(bytes)), EXPECTED, `1.${minor} whole`);
    for (const size of [1, 2, 3, 5, 6, 7, 13, 4096]) {
      assert.deepEqual(rows(count(bytes, size)), EXPECTED, `1.${minor} in pieces of ${size}`);
    }
  }
});

test('the table of contents is announced once, before any data', () => {
  const counter = new ArchiveRowCounter();
  let calls = 0;
  counter.onToc = () => {
    calls += 1;
    assert.deepEqual(
      counter.tables?.map((t) => t.name),
      ['notes', 'empty', 'wide', 'naïve "quoted"'],
    );
    assert.equal(counter.rowsOf(counter.tables![0]!.dumpId), 0);
  };
  const bytes = archive(15, TABLES);
  for (let at = 0; at < bytes.length; at += 100) counter.write(bytes.subarray(at, at + 100));
  counter.end();
  assert.equal(calls, 1);
});

test('compressed, older, foreign or garbled archives are unsupported, before any data: queries count instead', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['pg_dump compressed (1.15)', archive(15, TABLES, { compressed: true }), /compressed by pg_dump/],
    ['pg_dump compressed (1.14)', archive(14, TABLES, { compressed: true }), /compressed by pg_dump/],
    [
      'version 1.11',
      (() => {
        const b = archive(14, TABLES);
        b[6] = 11;
        return b;
      })(),
      /archive version 1\.11/,
    ],
    [
      'version 1.17',
      (() => {
        const b = archive(16, TABLES);
        b[6] = 17;
        return b;
      })(),
      /archive version 1\.17/,
    ],
    [
      'a directory-format toc',
      (() => {
        const b = archive(14, TABLES);
        b[10] = 5;
        return b;
      })(),
      /format 5 is not custom/,
    ],
    [
      'not an archive',
      Buffer.from('-- plain SQL dump\nCREATE TABLE t ();\n'),
      /not a pg_dump custom-format archive/,
    ],
    [
      'a string longer than anything',
      (() => {
        const b = archive(14, TABLES);
        b.writeUInt32LE(0x7fffffff, 11 + 5 * 8 + 1);
        return b;
      })(),
      /could not be read|string of/,
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    const counter = new ArchiveRowCounter();
    let announced = false;
    counter.onToc = () => (announced = true);
    counter.write(bytes);
    counter.end();
    assert.match(counter.unsupported ?? '', reason, name);
    assert.equal(announced, true, name);
    assert.equal(counter.tables, undefined, name);
  }
});

test('damage after the table of contents, or an archive cut anywhere, is an error, never a count', () => {
  const bytes = archive(15, TABLES);
  const dataStart = bytes.indexOf(Buffer.from('1\tline one'));
  assert.ok(dataStart > 0);
  // A negative piece length in the data.
  const negative = Buffer.from(bytes);
  negative[dataStart - 5] = 1;
  assert.throws(() => count(negative), ArchiveFormatError);
  // An unknown block type after the first table's data.
  const blockType = bytes.indexOf(Buffer.from([0, 0, 0, 0, 0, 1]), dataStart) + 5;
  const unknown = Buffer.from(bytes);
  unknown[blockType] = 9;
  assert.throws(() => count(unknown), /unknown data block type 9/);
  // Cut inside a data block, at many offsets: end() refuses. (A cut exactly between two
  // blocks reads as an archive with fewer tables: pg_dump's exit status tells those apart.)
  for (let cut = dataStart; cut < bytes.length - 1; cut += 7) {
    if (bytes.subarray(cut - 5, cut).equals(Buffer.alloc(5))) continue;
    const counter = new ArchiveRowCounter();
    counter.write(bytes.subarray(0, cut));
    assert.throws(() => counter.end(), /ends inside a data block/, `cut at ${cut}`);
  }
  // Once failed, always failed.
  const counter = new ArchiveRowCounter();
  assert.throws(() => counter.write(negative), ArchiveFormatError);
  assert.throws(() => counter.write(Buffer.alloc(1)), ArchiveFormatError);
  assert.throws(() => counter.end(), ArchiveFormatError);
});

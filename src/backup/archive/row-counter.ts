/**
 * Counts the rows of every table in a pg_dump custom-format archive as it
 * streams past, so that create needs no second backend scanning every table
 * for the manifest's row counts: the counts are those of the dump itself,
 * hence of its snapshot.
 *
 * The archive (pg_backup_archiver.c, pg_backup_custom.c) is a header, the
 * table of contents, then data blocks: `BLK_DATA` (1), the entry's dump id,
 * then length-prefixed pieces of COPY text ending with a zero length;
 * `BLK_BLOBS` (3) holds large objects the same way, per object id. COPY text
 * escapes newlines inside values (`\n`), so every raw newline in a table's
 * data ends one row; pg_dump ends every table's data with a piece of its
 * own holding the end-of-copy marker `\\.` and three newlines, which is no
 * row. Integers are a sign byte and `intSize` bytes, least significant
 * first; strings an integer length (-1 for null) and bytes.
 *
 * Only uncompressed archives of versions 1.12 to 1.16 (pg_dump 11 to 17+)
 * can be followed; anything else is reported as `unsupported` from the
 * header, before any data, so the caller can count with queries instead.
 * Damage after the table of contents is an error: the counts would be wrong.
 */
import { ByteQueue } from '../format/byte-queue.js';

const MAGIC = Buffer.from('PGDMP');
const FORMAT_CUSTOM = 1;
const BLK_DATA = 1;
/** pg_dump's end-of-copy piece, written after the last row of every table. */
const END_OF_COPY = Buffer.from('\\.\n\n\n');
const BLK_BLOBS = 3;
const MIN_VERSION = version(1, 12);
const MAX_VERSION = version(1, 16, 255);
/** Upper bound on one TOC string (a function body, a view): refuses garbage lengths before buffering them. */
const MAX_STRING = 256 * 1024 * 1024;

function version(major: number, minor: number, rev = 0): number {
  return (major * 256 + minor) * 256 + rev;
}

/** A table whose data the archive holds: its TOC entry's dump id, schema and name. */
export interface ArchiveTable {
  readonly dumpId: number;
  readonly schema: string;
  readonly name: string;
}

export class ArchiveFormatError extends Error {
  override readonly name = 'ArchiveFormatError';
}

type Need =
  | { readonly kind: 'bytes'; readonly n: number }
  /** Length-prefixed pieces until a zero length; rows counted for `dumpId` (-1: a large object, not counted). */
  | { readonly kind: 'pieces'; readonly dumpId: number }
  /** A block type byte, or the end of the archive. */
  | { readonly kind: 'block' };

export class ArchiveRowCounter {
  /** Set once the header is read: why this archive cannot be followed, if it cannot. */
  unsupported: string | undefined;
  /** The tables with data, once the table of contents is read. */
  tables: readonly ArchiveTable[] | undefined;
  /** Called once, when the table of contents is read or the archive found unsupported. */
  onToc: (() => void) | undefined;

  readonly #rows = new Map<number, number>();
  readonly #queue = new ByteQueue();
  readonly #parser: Generator<Need, void, Buffer | undefined>;
  #need: Need;
  #intSize = 4;
  #offSize = 8;
  #version = 0;
  #failed: Error | undefined;
  // Inside pieces: bytes left of the current piece, or -1 when its length comes next.
  #left = -1;
  #lengthBytes: number[] = [];
  // A piece as long as the end-of-copy marker, gathered when it straddles two buffers.
  #short: number[] | undefined;
  // The next newline found in the last buffer scanned (-1: none after it), so no byte is scanned twice.
  #scanned: Buffer | undefined;
  #nextNewline = -1;

  constructor() {
    this.#parser = this.#structure();
    this.#need = this.#parser.next().value as Need;
  }

  /** Rows counted per dump id so far. */
  rowsOf(dumpId: number): number {
    return this.#rows.get(dumpId) ?? 0;
  }

  /**
   * Feeds the next bytes of the archive. A header or table of contents it
   * cannot read makes the archive `unsupported`; damage after that throws
   * ArchiveFormatError (also from every later call).
   */
  write(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    if (this.unsupported !== undefined) return;
    try {
      this.#feed(chunk);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // Before the data, the caller can still count with queries in the snapshot.
      if (this.tables === undefined) {
        this.#unsupported(`its table of contents could not be read (${reason})`);
        return;
      }
      this.#failed = error instanceof ArchiveFormatError ? error : new ArchiveFormatError(reason);
      throw this.#failed;
    }
  }

  /** The archive ended: it must end between blocks. */
  end(): void {
    if (this.#failed) throw this.#failed;
    if (this.unsupported !== undefined) return;
    if (this.#need.kind !== 'block' || this.#queue.length > 0) {
      this.#failed = new ArchiveFormatError(
        this.tables === undefined
          ? 'the archive ends inside its header or table of contents'
          : 'the archive ends inside a data block',
      );
      throw this.#failed;
    }
  }

  #feed(chunk: Buffer): void {
    // Buffers to process in order; struct bytes left over when data begins come first.
    const work: Buffer[] = [chunk];
    while (work.length > 0 && this.unsupported === undefined) {
      const buffer = work.shift()!;
      let at = 0;
      while (at < buffer.length && this.unsupported === undefined) {
        if (this.#need.kind === 'pieces') {
          at = this.#pieces(buffer, at);
          continue;
        }
        this.#queue.push(at === 0 ? buffer : buffer.subarray(at));
        at = buffer.length;
        this.#structureWhileFed();
        // Zero-copy when one buffer is queued, as it is after a block header.
        if (this.#dataNext() && this.#queue.length > 0) work.unshift(this.#queue.takeAll());
      }
    }
  }

  #dataNext(): boolean {
    return this.#need.kind === 'pieces';
  }

  /** Runs the structure parser while it has the bytes it asks for, until it asks for data pieces. */
  #structureWhileFed(): void {
    while (this.unsupported === undefined) {
      const need = this.#need;
      if (need.kind === 'pieces') return;
      const n = need.kind === 'block' ? 1 : need.n;
      if (this.#queue.length < n) return;
      const result = this.#parser.next(this.#queue.take(n));
      if (result.done) return;
      this.#need = result.value;
    }
  }

  /**
   * The hot path: length-prefixed pieces of COPY text, rows counted in
   * place. Returns the offset reached: the end of the buffer, or just after
   * the zero length that ended the block (the structure parser goes on).
   */
  #pieces(chunk: Buffer, start: number): number {
    const dumpId = (this.#need as { dumpId: number }).dumpId;
    let at = start;
    let rows = 0;
    const width = 1 + this.#intSize;
    try {
      while (at < chunk.length) {
        if (this.#short !== undefined) {
          // The rest of a short piece that began in the previous buffer.
          while (this.#left > 0 && at < chunk.length) {
            this.#short.push(chunk[at]!);
            at += 1;
            this.#left -= 1;
          }
          if (this.#left === 0) {
            const piece = Buffer.from(this.#short);
            if (dumpId >= 0 && !piece.equals(END_OF_COPY)) rows += this.#newlines(piece, 0, piece.length);
            this.#short = undefined;
          }
          continue;
        }
        if (this.#left > 0) {
          const n = Math.min(this.#left, chunk.length - at);
          if (dumpId >= 0) rows += this.#newlines(chunk, at, at + n);
          at += n;
          this.#left -= n;
          continue;
        }
        let length: number;
        if (this.#lengthBytes.length === 0 && chunk.length - at >= width) {
          length = this.#intAt(chunk, at);
          at += width;
        } else {
          this.#lengthBytes.push(chunk[at]!);
          at += 1;
          if (this.#lengthBytes.length < width) continue;
          length = this.#intAt(Buffer.from(this.#lengthBytes), 0);
          this.#lengthBytes = [];
        }
        if (length < 0) throw new ArchiveFormatError(`a data piece claims ${length} bytes`);
        if (length === 0) {
          // The end of this block (or of this large object): back to the structure.
          this.#left = -1;
          const result = this.#parser.next(undefined);
          if (result.done) throw new ArchiveFormatError('the archive parser ended early');
          this.#need = result.value;
          return at;
        }
        this.#left = length;
        if (length === END_OF_COPY.length) {
          if (chunk.length - at >= length) {
            // Whole in this buffer: the marker is skipped, anything else counted below.
            if (chunk.subarray(at, at + length).equals(END_OF_COPY)) {
              at += length;
              this.#left = 0;
            }
          } else {
            this.#short = [];
          }
        }
      }
      return at;
    } finally {
      if (dumpId >= 0 && rows > 0) this.#rows.set(dumpId, (this.#rows.get(dumpId) ?? 0) + rows);
    }
  }

  #newlines(buffer: Buffer, start: number, end: number): number {
    let next: number;
    if (this.#scanned === buffer && (this.#nextNewline === -1 || this.#nextNewline >= start))
      next = this.#nextNewline;
    else next = buffer.indexOf(10, start);
    let count = 0;
    while (next !== -1 && next < end) {
      count += 1;
      next = buffer.indexOf(10, next + 1);
    }
    this.#scanned = buffer;
    this.#nextNewline = next;
    return count;
  }

  #intAt(buffer: Buffer, at: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 1; i <= this.#intSize; i++) {
      value += buffer[at + i]! * scale;
      scale *= 256;
    }
    return buffer[at] ? -value : value;
  }

  /** The header, the table of contents and the block headers, as a coroutine asking for bytes. */
  *#structure(): Generator<Need, void, Buffer | undefined> {
    const head = yield* this.#bytes(MAGIC.length + 3);
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) {
      this.#unsupported('not a pg_dump custom-format archive');
      return;
    }
    this.#version = version(head[5]!, head[6]!, head[7]!);
    if (this.#version < MIN_VERSION || this.#version > MAX_VERSION) {
      this.#unsupported(`archive version ${head[5]}.${head[6]} is not one this counter follows`);
      return;
    }
    this.#intSize = (yield* this.#bytes(1))[0]!;
    this.#offSize = (yield* this.#bytes(1))[0]!;
    if (this.#intSize < 1 || this.#intSize > 8 || this.#offSize < 1 || this.#offSize > 16) {
      this.#unsupported(`integer size ${this.#intSize}, offset size ${this.#offSize}`);
      return;
    }
    const format = (yield* this.#bytes(1))[0]!;
    if (format !== FORMAT_CUSTOM) {
      this.#unsupported(`archive format ${format} is not custom`);
      return;
    }
    const compressed =
      this.#version >= version(1, 15) ? (yield* this.#bytes(1))[0] !== 0 : (yield* this.#int()) !== 0;
    if (compressed) {
      // pg_dump compressed the data itself (--compress zstd): rows cannot be seen.
      this.#unsupported('the archive is compressed by pg_dump');
      return;
    }
    for (let i = 0; i < 7; i++) yield* this.#int(); // creation time
    yield* this.#str(); // database name
    yield* this.#str(); // server version
    yield* this.#str(); // pg_dump version

    const count = yield* this.#int();
    const tables: ArchiveTable[] = [];
    for (let i = 0; i < count; i++) {
      const dumpId = yield* this.#int();
      yield* this.#int(); // hadDumper
      yield* this.#str(); // catalog table oid
      yield* this.#str(); // oid
      const tag = yield* this.#str();
      const desc = yield* this.#str();
      yield* this.#int(); // section
      yield* this.#str(); // definition
      yield* this.#str(); // drop statement
      yield* this.#str(); // copy statement
      const namespace = yield* this.#str();
      yield* this.#str(); // tablespace
      if (this.#version >= version(1, 14)) yield* this.#str(); // table access method
      if (this.#version >= version(1, 16)) yield* this.#int(); // relkind
      yield* this.#str(); // owner
      yield* this.#str(); // "false" (WITH OIDS)
      while ((yield* this.#str()) !== null); // dependencies
      yield* this.#bytes(1 + this.#offSize); // data offset (custom format's extra TOC field)
      if (desc === 'TABLE DATA' && tag !== null && namespace !== null)
        tables.push({ dumpId, schema: namespace, name: tag });
    }
    this.tables = tables;
    this.onToc?.();

    for (;;) {
      const type = (yield { kind: 'block' })![0]!;
      const dumpId = yield* this.#int();
      if (type === BLK_DATA) {
        yield { kind: 'pieces', dumpId };
      } else if (type === BLK_BLOBS) {
        while ((yield* this.#int()) !== 0) yield { kind: 'pieces', dumpId: -1 };
      } else {
        throw new ArchiveFormatError(`unknown data block type ${type}`);
      }
    }
  }

  *#bytes(n: number): Generator<Need, Buffer, Buffer | undefined> {
    return (yield { kind: 'bytes', n })!;
  }

  *#int(): Generator<Need, number, Buffer | undefined> {
    return this.#intAt(yield* this.#bytes(1 + this.#intSize), 0);
  }

  *#str(): Generator<Need, string | null, Buffer | undefined> {
    const length = yield* this.#int();
    if (length < 0) return null;
    if (length > MAX_STRING) throw new ArchiveFormatError(`a string of ${length} bytes in the TOC`);
    return length === 0 ? '' : (yield* this.#bytes(length)).toString('utf8');
  }

  #unsupported(reason: string): void {
    this.unsupported = reason;
    this.onToc?.();
  }
}

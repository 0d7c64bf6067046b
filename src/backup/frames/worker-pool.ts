/**
 * A fixed pool of worker threads that compress or decompress frames. Jobs
 * go to the least busy worker; results come back with their input's
 * buffer transferred, not copied. The pool never decides order: callers
 * keep their own queue of promises (frame-writer.ts, frame-reader.ts).
 *
 * The workers are unref'd, so a pool that a failed pipeline did not get to
 * close cannot keep the process alive; `close()` terminates them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FRAME_WORKER_SOURCE } from './worker-source.js';
import type { CodecParams } from './codecs.js';

/**
 * Default workers: the cores, at most 4. pg_dump is one process producing
 * a few hundred MiB/s, and one worker compresses about 300 MiB/s with either
 * codec, so beyond 4 workers wait for input (bench/README.md#backup).
 */
export const MAX_DEFAULT_WORKERS = 4;

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(MAX_DEFAULT_WORKERS, availableParallelism()));
}

export interface FrameResult {
  readonly output: Buffer;
  /** Input bytes the codec consumed (all of them for compression). */
  readonly consumed: number;
}

/** A codec failure inside a worker (its message is zlib's, e.g. "incorrect header check"). */
export class FrameCodecError extends Error {
  readonly zlibCode: string | undefined;
  constructor(message: string, zlibCode: string | undefined) {
    super(message);
    this.name = 'FrameCodecError';
    this.zlibCode = zlibCode;
  }
}

interface Pending {
  resolve: (result: FrameResult) => void;
  reject: (error: Error) => void;
  worker: Slot;
}

interface Slot {
  worker: Worker;
  busy: number;
}

interface Reply {
  id: number;
  output?: Uint8Array;
  consumed?: number;
  threadId?: number;
  error?: string;
  code?: string;
}

export class FramePool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #threadsUsed = new Set<number>();
  #nextId = 0;
  #live = 0;
  #failure: Error | undefined;
  #closed = false;

  constructor(size: number, params: CodecParams) {
    this.size = size;
    for (let i = 0; i < size; i++) {
      const worker = new Worker(FRAME_WORKER_SOURCE, {
        eval: true,
        workerData: params,
        // Not the parent's flags: a loader such as tsx would be loaded again in every worker.
        execArgv: [],
        stdout: false,
        stderr: false,
      });
      worker.unref();
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (reply: Reply) => this.#settle(reply));
      worker.on('error', (error) => this.#fail(error));
      this.#live += 1;
      worker.on('exit', (code) => {
        this.#live -= 1;
        if (!this.#closed) this.#fail(new Error(`a frame worker exited with code ${code}`));
      });
      this.#slots.push(slot);
    }
  }

  /** Compresses `input`; its buffer is transferred (unusable afterwards). */
  compress(input: Buffer): Promise<FrameResult> {
    return this.#run('compress', input, 0);
  }

  /** Decompresses `input`, expecting `expected` bytes; its buffer is transferred. */
  decompress(input: Buffer, expected: number): Promise<FrameResult> {
    return this.#run('decompress', input, expected);
  }

  /** How many distinct worker threads have finished a job (the tests check the pool is used). */
  get threadsUsed(): number {
    return this.#threadsUsed.size;
  }

  /** Workers not yet exited. */
  get liveWorkers(): number {
    return this.#live;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fail(new Error('the frame pool was closed'));
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  #run(op: 'compress' | 'decompress', input: Buffer, expected: number): Promise<FrameResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    let slot = this.#slots[0]!;
    for (const candidate of this.#slots) if (candidate.busy < slot.busy) slot = candidate;
    const id = this.#nextId++;
    const transferable = ownsBuffer(input) ? input : copyOwned(input);
    return new Promise<FrameResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: slot });
      slot.busy += 1;
      slot.worker.postMessage({ id, op, input: transferable, expected }, [
        transferable.buffer as ArrayBuffer,
      ]);
    });
  }

  #settle(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    pending.worker.busy -= 1;
    if (reply.threadId !== undefined) this.#threadsUsed.add(reply.threadId);
    if (reply.error !== undefined) {
      pending.reject(new FrameCodecError(reply.error, reply.code));
      return;
    }
    const output = reply.output!;
    pending.resolve({
      output: Buffer.from(output.buffer, output.byteOffset, output.byteLength),
      consumed: reply.consumed ?? 0,
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(this.#failure);
    }
  }
}

function ownsBuffer(buffer: Buffer): boolean {
  return buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength;
}

function copyOwned(buffer: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);
  return copy;
}

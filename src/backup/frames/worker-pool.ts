/**
 * A fixed pool of worker threads that compress or decompress frames. Jobs
 * go to the least busy worker; results come back with their input's
 * buffer transferred, not copied. The pool never decides order: callers
 * keep their own queue of promises (frame-writer.ts, frame-reader.ts).
 *
 * An idle worker is unref'd, so a pool that a failed pipeline did not get
 * to close cannot keep the process alive; `close()` ends them. A
 * worker with a job in flight is ref'd: otherwise, while a stream waits for
 * nothing but a frame (its source paused by backpressure, pg_restore --list
 * already gone), the event loop would be empty and Node would exit
 * mid-pipeline, with status 0 and the promise never settled.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FRAME_WORKER_SOURCE } from './worker-source.js';
import type { CodecParams } from './codecs.js';

/**
 * Default workers: one core less than the machine has (pg_dump or
 * pg_restore and the server's backend take one between them), at least 1
 * and at most 4. pg_dump is one process producing a few hundred MiB/s and
 * one worker compresses about 300 MiB/s with either codec, so beyond 4
 * workers wait for input; on 2 cores a second worker only competes with
 * pg_dump for the same cores and costs 10-25 MiB (bench/README.md#backup).
 */
export const MAX_DEFAULT_WORKERS = 4;

/**
 * How long a worker asked to stop may take before it is terminated: it
 * stops after the job it is running, and one frame takes milliseconds to
 * about a second (brotli at its highest quality).
 */
const STOP_GRACE_MS = 10_000;

export function defaultWorkerCount(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(MAX_DEFAULT_WORKERS, cores - 1));
}

export interface FrameResult {
  readonly output: Buffer;
  /** Input bytes the codec consumed (all of them for compression). */
  readonly consumed: number;
  /** The input's memory, back from the worker for the next frame (the whole buffer that was sent). */
  readonly input: Buffer;
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
  /** Jobs given to this worker so far. */
  jobs: number;
  /** Takes no new job; stopped once its last one is done. */
  retiring: boolean;
  /** Settles when the thread has exited. */
  exited: Promise<void>;
}

interface Reply {
  id: number;
  input?: Uint8Array;
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

  readonly #params: CodecParams;
  readonly #retireAfter: number | undefined;

  /**
   * `retireAfter`: replace a worker by a fresh one after that many jobs.
   * zstd needs it: node:zlib's zstd frees a one-shot call's native context
   * only when its handle is garbage-collected (close() does not), which a
   * worker with a tiny heap rarely does, so each worker kept tens of MiB of
   * dead contexts; a worker's end frees them all.
   */
  constructor(size: number, params: CodecParams, retireAfter?: number) {
    this.size = size;
    this.#params = params;
    this.#retireAfter = retireAfter;
    for (let i = 0; i < size; i++) this.#spawn();
  }

  #spawn(): void {
    const worker = new Worker(FRAME_WORKER_SOURCE, {
      eval: true,
      workerData: this.#params,
      // Not the parent's flags: a loader such as tsx would be loaded again in every worker.
      execArgv: [],
      stdout: false,
      stderr: false,
    });
    worker.unref();
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const slot: Slot = { worker, busy: 0, jobs: 0, retiring: false, exited };
    worker.on('message', (reply: Reply) => this.#settle(reply));
    worker.on('error', (error) => this.#fail(error));
    this.#live += 1;
    worker.on('exit', (code) => {
      this.#live -= 1;
      markExited();
      if (!this.#closed && !slot.retiring) this.#fail(new Error(`a frame worker exited with code ${code}`));
    });
    this.#slots.push(slot);
  }

  /**
   * Compresses `input` into at most `capacity` bytes. Its memory moves to the
   * worker and comes back as the result's `input`.
   */
  compress(input: Buffer, capacity: number): Promise<FrameResult> {
    return this.#run('compress', input, 0, capacity);
  }

  /** Decompresses `input`, expecting `expected` bytes; its memory comes back as the result's `input`. */
  decompress(input: Buffer, expected: number): Promise<FrameResult> {
    return this.#run('decompress', input, expected, 0);
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
    await Promise.all(this.#slots.map((slot) => this.#stop(slot)));
  }

  /**
   * Asks a worker to exit and waits until it has. Not `terminate()` at
   * once: a worker still starting up may be inside Node's compilation of a
   * built-in module (its script loads node:vm), and a termination there
   * makes V8 print that module's source to the process's stdout, in front
   * of a command's JSON line (seen in CI when pg_dump failed at once). A
   * message is handled only after the worker's script has run and between
   * jobs, so the worker ends at a clean point; `terminate()` is the
   * fallback for one that does not within STOP_GRACE_MS.
   */
  #stop(slot: Slot): Promise<void> {
    // Referenced while it stops: a process with nothing else to do must wait for it, not exit mid-close.
    slot.worker.ref();
    slot.worker.postMessage({ op: 'stop' });
    const fallback = setTimeout(() => void slot.worker.terminate(), STOP_GRACE_MS);
    fallback.unref();
    return slot.exited.then(() => clearTimeout(fallback));
  }

  #run(
    op: 'compress' | 'decompress',
    input: Buffer,
    expected: number,
    capacity: number,
  ): Promise<FrameResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    let slot: Slot | undefined;
    for (const candidate of this.#slots)
      if (!candidate.retiring && (slot === undefined || candidate.busy < slot.busy)) slot = candidate;
    if (slot === undefined) return Promise.reject(new Error('no frame worker available'));
    slot.jobs += 1;
    if (this.#retireAfter !== undefined && slot.jobs >= this.#retireAfter) {
      // Its successor starts now, so the pool keeps its size while this one finishes.
      slot.retiring = true;
      this.#spawn();
    }
    const target = slot;
    const id = this.#nextId++;
    // Only memory of its own can move (a view into Node's shared pool must not).
    const transferable = ownsMemory(input) ? input : copyOwned(input);
    return new Promise<FrameResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: target });
      if (target.busy === 0) target.worker.ref();
      target.busy += 1;
      target.worker.postMessage({ id, op, input: transferable, expected, capacity }, [
        transferable.buffer as ArrayBuffer,
      ]);
    });
  }

  #settle(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    pending.worker.busy -= 1;
    if (pending.worker.busy === 0) pending.worker.worker.unref();
    if (pending.worker.retiring && pending.worker.busy === 0) {
      const retired = pending.worker;
      this.#slots.splice(this.#slots.indexOf(retired), 1);
      void this.#stop(retired);
    }
    if (reply.threadId !== undefined) this.#threadsUsed.add(reply.threadId);
    if (reply.error !== undefined) {
      pending.reject(new FrameCodecError(reply.error, reply.code));
      return;
    }
    const output = reply.output!;
    const input = reply.input!;
    pending.resolve({
      output: Buffer.from(output.buffer, output.byteOffset, output.byteLength),
      consumed: reply.consumed ?? 0,
      input: Buffer.from(input.buffer, 0, input.buffer.byteLength),
    });
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.worker.busy = 0;
      pending.worker.worker.unref();
      pending.reject(this.#failure);
    }
  }
}

/** A view starting at offset 0 of an allocation of at least 4 KiB: Node never pools those. */
function ownsMemory(buffer: Buffer): boolean {
  return buffer.byteOffset === 0 && buffer.buffer.byteLength >= 4096;
}

function copyOwned(buffer: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);
  return copy;
}

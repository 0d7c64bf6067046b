/** A FIFO of buffers from which exact byte counts can be taken, copying only across boundaries. */
export class ByteQueue {
  #buffers: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(buffer: Buffer): void {
    if (buffer.length === 0) return;
    this.#buffers.push(buffer);
    this.#length += buffer.length;
  }

  /** Removes and returns the first `n` bytes; `n` must not exceed {@link length}. */
  take(n: number): Buffer {
    if (n > this.#length) throw new RangeError(`take(${n}) from ${this.#length} bytes`);
    this.#length -= n;
    const first = this.#buffers[0];
    if (first && first.length >= n) {
      if (first.length === n) this.#buffers.shift();
      else this.#buffers[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.#buffers[0]!;
      const need = n - filled;
      if (head.length <= need) {
        head.copy(out, filled);
        filled += head.length;
        this.#buffers.shift();
      } else {
        head.copy(out, filled, 0, need);
        this.#buffers[0] = head.subarray(need);
        filled += need;
      }
    }
    return out;
  }

  /** Removes and returns everything. */
  takeAll(): Buffer {
    return this.take(this.#length);
  }
}

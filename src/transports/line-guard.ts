/**
 * A guard in front of the stdio transport. The SDK's reader closes the whole connection when one
 * line outgrows its 10 MB buffer (the server then exits), and holds that much in memory first. This
 * passes every line of at most `maxLineBytes` through unchanged and drops a longer one while it
 * streams in, keeping only enough state to find its top-level "id", so the sender can be answered
 * with a JSON-RPC error instead of losing the connection.
 */
import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;
/** An id longer than this is not echoed: the answer then names no id (null). */
const MAX_ID_BYTES = 200;

export interface DroppedLine {
  /** The request's top-level id, when it had one we could read: answer it so the caller stops waiting. */
  id: string | number | null;
  bytes: number;
}

/**
 * Finds the value of the top-level "id" member of a JSON object streamed byte by byte, without
 * holding the text: depth, string and escape state, the last top-level key, and the id's bytes.
 */
class TopLevelIdScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes of the string being read, when it is a top-level key or the id's value. */
  private text: number[] | null = null;
  private readingKey = false;
  private lastKey: string | null = null;
  private expectValue = false;
  private number: number[] | null = null;
  id: string | number | null = null;

  feed(chunk: Buffer, start = 0, end = chunk.length): void {
    for (let i = start; i < end; i++) this.step(chunk[i]);
  }

  finish(): void {
    this.endNumber();
  }

  private step(b: number): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (b === 0x5c) this.escaped = true;
      else if (b === 0x22) return this.endString();
      if (this.text && this.text.length <= MAX_ID_BYTES) this.text.push(b);
      return;
    }
    if (this.number) {
      if ((b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45) {
        if (this.number.length <= MAX_ID_BYTES) this.number.push(b);
        return;
      }
      this.endNumber();
    }
    if (b === 0x20 || b === 0x09 || b === 0x0d) return;
    if (this.expectValue && this.depth === 1) {
      this.expectValue = false;
      if (b === 0x22) {
        this.inString = true;
        this.text = [];
        this.readingKey = false;
        return;
      }
      if ((b >= 0x30 && b <= 0x39) || b === 0x2d) {
        this.number = [b];
        return;
      }
    }
    switch (b) {
      case 0x22: // a string: at depth 1 after '{' or ',', a key
        this.inString = true;
        this.readingKey = this.depth === 1 && this.lastKey === null;
        this.text = this.readingKey ? [] : null;
        return;
      case 0x3a: // ':' after a top-level key: its value follows
        if (this.depth === 1 && this.lastKey !== null) this.expectValue = this.lastKey === 'id';
        return;
      case 0x2c: // ',': the next top-level token is a key again
        if (this.depth === 1) this.lastKey = null;
        return;
      case 0x7b:
      case 0x5b:
        this.depth++;
        return;
      case 0x7d:
      case 0x5d:
        this.depth--;
        return;
    }
  }

  private endString(): void {
    this.inString = false;
    const text = this.text;
    this.text = null;
    if (!text) return;
    if (this.readingKey) {
      this.readingKey = false;
      this.lastKey = text.length <= MAX_ID_BYTES ? Buffer.from(text).toString('utf8') : '';
    } else if (text.length <= MAX_ID_BYTES) {
      try {
        this.id = JSON.parse(`"${Buffer.from(text).toString('utf8')}"`) as string;
      } catch {
        this.id = null;
      }
    }
  }

  private endNumber(): void {
    if (!this.number) return;
    const n = Number(Buffer.from(this.number).toString('latin1'));
    this.id = this.number.length <= MAX_ID_BYTES && Number.isFinite(n) ? n : null;
    this.number = null;
  }
}

/**
 * Passes newline-delimited messages through whole; a line over `maxLineBytes` is dropped as it
 * arrives and reported through `onDropped` once its newline comes.
 */
export class LineGuard extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dropping: { scanner: TopLevelIdScanner; bytes: number } | null = null;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onDropped: (line: DroppedLine) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.accept(chunk, start, end);
      if (newline === -1) break;
      this.endLine();
      start = newline + 1;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.pendingBytes > 0) this.push(Buffer.concat(this.pending));
    done();
  }

  private accept(chunk: Buffer, start: number, end: number): void {
    if (this.dropping) {
      this.dropping.scanner.feed(chunk, start, end);
      this.dropping.bytes += end - start;
      return;
    }
    if (this.pendingBytes + (end - start) <= this.maxLineBytes) {
      if (end > start) this.pending.push(chunk.subarray(start, end));
      this.pendingBytes += end - start;
      return;
    }
    // Too long: what was held so far is scanned once and let go.
    const scanner = new TopLevelIdScanner();
    for (const part of this.pending) scanner.feed(part);
    scanner.feed(chunk, start, end);
    this.dropping = { scanner, bytes: this.pendingBytes + (end - start) };
    this.pending = [];
    this.pendingBytes = 0;
  }

  private endLine(): void {
    if (this.dropping) {
      const { scanner, bytes } = this.dropping;
      this.dropping = null;
      scanner.finish();
      this.onDropped({ id: scanner.id, bytes });
      return;
    }
    this.pending.push(Buffer.of(NEWLINE));
    this.push(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

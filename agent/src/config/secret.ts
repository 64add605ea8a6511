import { timingSafeEqual, createHash } from 'node:crypto';

/**
 * The cluster credential. Wrapped so that it cannot reach a log or a status document by
 * accident: it prints and serialises as "[redacted]".
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  /** Constant-time comparison with a presented credential. */
  matches(presented: Buffer | string | undefined): boolean {
    if (presented === undefined) return false;
    const a = createHash('sha256').update(this.#value).digest();
    const b = createHash('sha256').update(presented).digest();
    return timingSafeEqual(a, b);
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}

/** Polls `pred` until it holds; fails with `what` after `timeoutMs`. Returns the elapsed ms. */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition', everyMs = 50): Promise<number> {
  const t0 = Date.now();
  let lastErr: unknown = null;
  for (;;) {
    try {
      if (await pred()) return Date.now() - t0;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} did not hold within ${timeoutMs} ms${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

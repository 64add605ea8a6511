/**
 * JSON from the network or a file, bounded before it is parsed: its size, then its nesting
 * depth (a linear scan that counts brackets outside strings), then JSON.parse. A payload of
 * 4,000 nested arrays is refused by the scan, so no later recursive walk (a schema, a
 * canonical encoding) can overflow the stack on it.
 */
export const MAX_JSON_DEPTH = 16;

export type JsonResult = { ok: true; value: unknown } | { ok: false; reason: 'oversized' | 'malformed'; detail: string };

/** Whether `text` nests objects and arrays at most `max` deep (strings and escapes skipped). */
export function depthWithin(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

export function parseJsonBounded(bytes: Buffer | Uint8Array, maxBytes: number, maxDepth = MAX_JSON_DEPTH): JsonResult {
  if (bytes.length > maxBytes) return { ok: false, reason: 'oversized', detail: `${bytes.length} bytes (at most ${maxBytes})` };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  if (!depthWithin(text, maxDepth)) return { ok: false, reason: 'malformed', detail: `nested deeper than ${maxDepth}` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not JSON' };
  }
}

/**
 * Natural order for host names ("h2" before "h10"), independent of locale and ICU data, so
 * that every agent, whatever its Node build, ranks hosts the same way. Runs of digits compare
 * by value (then the shorter run first: "h01" after "h1"), other runs by code unit; it walks
 * the strings without allocating (it sorts the members many times a second).
 */
const isDigit = (c: number) => c >= 48 && c <= 57;

function runEnd(s: string, i: number): number {
  const d = isDigit(s.charCodeAt(i));
  let j = i + 1;
  while (j < s.length && isDigit(s.charCodeAt(j)) === d) j++;
  return j;
}

export function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ie = runEnd(a, i);
    const je = runEnd(b, j);
    const da = isDigit(a.charCodeAt(i));
    const db = isDigit(b.charCodeAt(j));
    if (da && db) {
      const x = Number(a.slice(i, ie));
      const y = Number(b.slice(j, je));
      if (x !== y) return x < y ? -1 : 1;
      if (ie - i !== je - j) return ie - i < je - j ? -1 : 1;
    } else {
      // Compare the two runs as strings, without cutting them out.
      const n = Math.min(ie - i, je - j);
      for (let k = 0; k < n; k++) {
        const ca = a.charCodeAt(i + k);
        const cb = b.charCodeAt(j + k);
        if (ca !== cb) return ca < cb ? -1 : 1;
      }
      if (ie - i !== je - j) return ie - i < je - j ? -1 : 1;
    }
    i = ie;
    j = je;
  }
  if (i < a.length || j < b.length) return i < a.length ? 1 : -1;
  return 0;
}

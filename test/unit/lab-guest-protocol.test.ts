import { describe, expect, it } from 'vitest';
import { LineReader, parseLine, RequestSchema, ResponseSchema } from '../../agent/src/lab/guest/protocol.js';

describe('lab guest channel: line framing', () => {
  const cases: { name: string; chunks: string[]; limit?: number; lines: string[]; dropped: number }[] = [
    { name: 'one line in one chunk', chunks: ['{"a":1}\n'], lines: ['{"a":1}'], dropped: 0 },
    { name: 'a line split over chunks', chunks: ['{"a"', ':1}', '\n'], lines: ['{"a":1}'], dropped: 0 },
    { name: 'two lines in one chunk, a third pending', chunks: ['x\ny\nz'], lines: ['x', 'y'], dropped: 0 },
    { name: 'an over-long line is dropped whole, the next kept', chunks: ['0123456789', 'abc\nok\n'], limit: 8, lines: ['ok'], dropped: 1 },
    { name: 'an over-long line in one chunk', chunks: ['0123456789\nok\n'], limit: 8, lines: ['ok'], dropped: 1 },
    { name: 'a line exactly at the limit is kept', chunks: ['12345678\n'], limit: 8, lines: ['12345678'], dropped: 0 },
    { name: 'empty lines come through', chunks: ['\n\n'], lines: ['', ''], dropped: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = new LineReader(c.limit);
      const got = c.chunks.flatMap((ch) => r.push(Buffer.from(ch)));
      expect(got).toEqual(c.lines);
      expect(r.dropped).toBe(c.dropped);
    });
  }
});

describe('lab guest channel: messages are checked', () => {
  const cases: { line: string; ok: boolean }[] = [
    { line: '{"id":1,"op":"status"}', ok: true },
    { line: '{"id":2,"op":"exec","argv":["ip","addr"],"timeoutMs":5000}', ok: true },
    { line: '{"id":2,"op":"exec","argv":[],"timeoutMs":5000}', ok: false },
    { line: '{"id":3,"op":"reboot"}', ok: false },
    { line: '{"id":-1,"op":"kill"}', ok: false },
    { line: '{"id":4,"op":"start","waitMs":0}', ok: false },
    { line: 'not json', ok: false },
    { line: '[1,2]', ok: false },
  ];
  for (const c of cases) {
    it(`${c.ok ? 'accepts' : 'refuses'} ${c.line}`, () => {
      expect(parseLine(c.line, RequestSchema) !== null).toBe(c.ok);
    });
  }
  it('answers carry either a result or an error', () => {
    expect(parseLine('{"id":1,"ok":true,"result":{"pid":5}}', ResponseSchema)).toEqual({ id: 1, ok: true, result: { pid: 5 } });
    expect(parseLine('{"id":1,"ok":false,"error":"the agent is not running","code":"LAB_STATE"}', ResponseSchema)).not.toBeNull();
    expect(parseLine('{"id":1,"ok":false}', ResponseSchema)).toBeNull();
  });
});

import { createRequire } from 'node:module';

/**
 * libc through ffi-rs, for the few calls Node has no API for (netlink sockets, Unix datagrams,
 * extended attributes). Loaded on first use, so that code paths that never need it never load it.
 */
type Ffi = typeof import('ffi-rs');
let ffi: Ffi | null = null;
let opened = false;

export function libc(): Ffi {
  if (!ffi) ffi = createRequire(import.meta.url)('ffi-rs') as Ffi;
  if (!opened) {
    ffi.open({ library: 'libc', path: 'libc.so.6' });
    opened = true;
  }
  return ffi;
}

export type Errno<T> = { value: T; errnoCode: number; errnoMessage: string };

export function call(name: string, ret: number, types: number[], values: unknown[]): Errno<number> {
  const f = libc();
  return f.load({ library: 'libc', funcName: name, retType: ret, paramsType: types, paramsValue: values, errno: true } as never) as unknown as Errno<number>;
}

/** The same call on an ffi-rs worker thread, for calls that block. */
export function callBlocking(name: string, ret: number, types: number[], values: unknown[]): Promise<Errno<number>> {
  const f = libc();
  return f.load({ library: 'libc', funcName: name, retType: ret, paramsType: types, paramsValue: values, errno: true, runInNewThread: true } as never) as unknown as Promise<Errno<number>>;
}

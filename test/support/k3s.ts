import { resolve } from 'node:path';

/** The k3s the suites run: the stand-in fixture, or a real binary given in K3S_BIN. */
export const K3S_BIN = process.env.K3S_BIN ?? resolve('test/fixtures/k3s-standin/k3s');

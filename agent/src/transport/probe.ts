import { connect } from 'node:net';

/**
 * Is a peer's broker reachable? A TCP connect with a deadline: a refused connection (agent
 * down, host up) answers at once; a pulled cable or a partition times out.
 */
export function probeTcp(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

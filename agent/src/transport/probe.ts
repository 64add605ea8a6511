import { connect, type Socket } from 'node:net';

/**
 * Is a peer's broker reachable? TCP connects with a deadline: a refused connection (agent
 * down, host up) answers at once; a pulled cable or a partition times out. `attempts`
 * connections are tried at once and the first to connect wins: a lost SYN is only resent after
 * a second, so on a lossy link one attempt often fails although the peer is there.
 */
export function probeTcp(address: string, port: number, timeoutMs: number, attempts = 3): Promise<boolean> {
  return new Promise((resolve) => {
    const socks: Socket[] = [];
    let pending = attempts;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of socks) {
        s.removeAllListeners();
        s.on('error', () => {});
        s.destroy();
      }
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    for (let i = 0; i < attempts; i++) {
      const sock = connect({ host: address, port });
      socks.push(sock);
      sock.once('connect', () => finish(true));
      sock.once('error', (err: NodeJS.ErrnoException) => {
        // Refused means the host answered: no point waiting for the other attempts.
        if (err.code === 'ECONNREFUSED' || --pending === 0) finish(false);
      });
    }
  });
}

import { MembershipCore, type Action } from '../../agent/src/membership/core.js';
import type { MemberCard, Presence } from '../../agent/src/contract/index.js';

/**
 * An in-memory cluster for the membership core: brokers with retained presence, sessions,
 * last wills, TCP probes answered from a reachability matrix, and a fake clock. Like
 * memberlist's mock transport, it lets multi-node behaviour be tested in milliseconds.
 */
const TIMINGS = { probeIntervalMs: 1000, settleMs: 2000, forgetAfterMs: 86_400_000 };
const FACTS = { model: 'sim', arch: 'arm64', cores: 4, memMB: 4096, tempC: null, load1: 0 };

interface Node {
  card: MemberCard;
  core: MembershipCore;
  session: string | null;
  alive: boolean;
  incarnation: number;
  seeds: string[];
}

export class SimCluster {
  now = 1_000_000;
  readonly nodes = new Map<string, Node>();
  /** Retained presence per broker host. */
  private retained = new Map<string, Map<string, Presence>>();
  private queue: { at: number; fn: () => void }[] = [];
  private cut = new Set<string>();
  private groups: string[][] | null = null;

  add(host: string, opts: { priority?: number; seeds?: string[] } = {}): void {
    const card: MemberCard = { host, address: host, port: 1883, priority: opts.priority ?? 0, cores: 4, memMB: 4096 };
    const seeds = (opts.seeds ?? []).filter((s) => s !== host);
    const core = new MembershipCore(card, { cluster: 'sim', timings: TIMINGS, hasSeeds: seeds.length > 0 });
    const node: Node = { card, core, session: null, alive: true, incarnation: this.now, seeds };
    this.nodes.set(host, node);
    this.retained.set(host, new Map());
    this.apply(node, core.start(this.now));
  }

  reach(a: string, b: string): boolean {
    if (a === b) return true;
    if (this.cut.has(a) || this.cut.has(b)) return false;
    return !this.groups || this.groups.some((g) => g.includes(a) && g.includes(b));
  }

  pullCable(h: string) {
    this.cut.add(h);
    this.checkSessions();
  }
  plugCable(h: string) {
    this.cut.delete(h);
  }
  partition(groups: string[][] | null) {
    this.groups = groups;
    this.checkSessions();
  }
  kill(h: string) {
    const n = this.nodes.get(h)!;
    n.alive = false;
    const r = this.retained.get(h)!;
    r.clear();
    // Its clients lose their sessions; its own session's will fires at its broker.
    if (n.session) this.will(n, n.session);
    n.session = null;
    for (const other of this.nodes.values()) if (other.alive && other.session === h) this.drop(other);
  }

  private presence(n: Node, state: 'online' | 'offline', movedTo: string | null = null): Presence {
    return { v: 1, cluster: 'sim', ...n.card, state, incarnation: n.incarnation, seq: 0, rendezvous: n.session, movedTo, facts: FACTS, ccp: null, term: 0, unreachable: null, carrier: null, cert: 'AA==', ts: this.now };
  }

  private at(delay: number, fn: () => void) {
    this.queue.push({ at: this.now + delay, fn });
  }

  private publish(broker: string, p: Presence) {
    this.retained.get(broker)!.set(p.host, p);
    for (const n of this.nodes.values()) {
      if (n.alive && n.session === broker) this.apply(n, n.core.onPresence(this.now, p, n.incarnation));
    }
  }

  private will(n: Node, broker: string) {
    // The broker notices after 1.5 keepalives.
    this.at(1500, () => {
      if (this.nodes.get(broker)?.alive) this.publish(broker, this.presence(n, 'offline'));
    });
  }

  private drop(n: Node) {
    const host = n.session!;
    n.session = null;
    this.at(1000, () => n.alive && this.apply(n, n.core.onSessionDown(this.now, host)));
  }

  /** Sessions across a cut or partition die (client side after a keepalive, will at the broker). */
  private checkSessions() {
    for (const n of this.nodes.values()) {
      if (n.alive && n.session && !this.reach(n.card.host, n.session)) {
        const broker = n.session;
        this.will(n, broker);
        this.drop(n);
      }
    }
  }

  private apply(n: Node, actions: Action[]) {
    for (const a of actions) {
      if (a.type === 'bootstrap') {
        this.at(50, () => {
          const seed = n.seeds.find((s) => this.nodes.get(s)?.alive && this.reach(n.card.host, s));
          if (!seed) return this.apply(n, n.core.onBootstrapFailed(this.now));
          const sn = this.nodes.get(seed)!;
          const cards = [{ ...sn.card, lastSeen: this.now }, ...sn.core.directory(this.now)];
          this.apply(n, n.core.onBootstrap(this.now, cards, sn.session));
        });
      } else if (a.type === 'probe') {
        for (const t of a.targets) {
          const ok = this.nodes.get(t.host)?.alive === true && this.reach(n.card.host, t.host);
          this.at(ok ? 5 : 500, () => n.alive && this.apply(n, n.core.onProbe(this.now, t.host, ok)));
        }
      } else if (a.type === 'connect') {
        const target = a.target.host;
        this.at(20, () => {
          if (!n.alive) return;
          const ok = this.nodes.get(target)?.alive === true && this.reach(n.card.host, target);
          if (!ok) return this.apply(n, n.core.onConnectFailed(this.now, target));
          const previous = n.session;
          n.session = target;
          this.apply(n, n.core.onSessionUp(this.now, target));
          for (const p of this.retained.get(target)!.values()) this.apply(n, n.core.onPresence(this.now, p, n.incarnation));
          if (previous && this.nodes.get(previous)?.alive) this.publish(previous, this.presence(n, 'offline', target));
        });
      } else if (a.type === 'publish-presence') {
        if (n.session) this.publish(n.session, this.presence(n, 'online'));
      }
    }
  }

  /** Advances fake time, running due work and core ticks every 200 ms. */
  run(ms: number) {
    const end = this.now + ms;
    let nextTick = this.now + 200;
    while (this.now < end) {
      this.queue.sort((a, b) => a.at - b.at);
      const next = Math.min(this.queue[0]?.at ?? Infinity, nextTick, end);
      this.now = next;
      while (this.queue.length && this.queue[0]!.at <= this.now) this.queue.shift()!.fn();
      if (this.now >= nextTick) {
        for (const n of this.nodes.values()) if (n.alive) this.apply(n, n.core.tick(this.now));
        nextTick += 200;
      }
    }
  }

  rendezvousOf(h: string): string | null {
    return this.nodes.get(h)!.session;
  }
  viewOf(h: string): string[] {
    return this.nodes.get(h)!.core.view();
  }
}

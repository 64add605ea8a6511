import type { DirectoryEntry, MemberCard, Presence } from '../contract/index.js';
import type { MembershipSnapshot } from '../contract/status.js';
import { memberRows, type Action, type CoreOptions, type Member, type SessionInfo } from './types.js';

export type { Action, Member } from './types.js';
import { chooseRendezvous, selfRetry, type SelfRetry } from './choose.js';
import { compareRank, sameCard } from './rank.js';

/**
 * The membership and rendezvous core: pure logic, no I/O, time passed in.
 *
 * Rule: every agent is a client of the best-ranked member whose broker it can reach (itself
 * included). The members of one connected group know the same members and rank them the
 * same way, so they converge on the same broker. Reachability is learned from TCP probes,
 * which are made only towards members ranked above the current rendezvous (in steady state
 * on the best member: none at all), and towards everyone above the agent when its
 * rendezvous is lost. A newcomer first joins the rendezvous its seed reports, so the others
 * learn of it before anyone moves. See docs/membership.md.
 */

interface Reach {
  ok: boolean;
  at: number;
}

export class MembershipCore {
  readonly members = new Map<string, Member>();
  private readonly reach = new Map<string, Reach>();
  private readonly probing = new Set<string>();
  private session: SessionInfo = { host: null, up: false, since: null };
  private connecting: string | null = null;
  /** The rendezvous a seed's directory named: joined first, so the group learns of us. */
  private hint: string | null = null;
  private everConnected = false;
  private lastBootstrapAt = -Infinity;
  private bootstrapped = false;
  /** This host's own cluster-facing link is down: nobody else is reachable. */
  private isolated = false;
  /** Brokers whose cluster excluded this host (it does not reach all their members). */
  private readonly barred = new Set<string>();
  /** This host's own broker refused it (revoked, or down): when to try it again (selfRetry). */
  private selfRetry: SelfRetry | null = null;

  constructor(
    public self: MemberCard,
    private readonly opts: CoreOptions,
    known: DirectoryEntry[] = [],
  ) {
    this.restore(known);
  }

  /** Members remembered from disk (offline until heard again). */
  restore(known: DirectoryEntry[]): void {
    for (const e of known) {
      if (e.host === this.self.host) continue;
      const { lastSeen, ...card } = e;
      this.members.set(e.host, { card, status: 'offline', pendingUntil: null, lastSeen, incarnation: 0, facts: null, movedTo: null, ccp: null, term: 0, unreachable: null, carrier: null });
    }
  }

  // ---- queries ----

  get rendezvous(): SessionInfo {
    return { ...this.session };
  }

  /** The members this agent currently sees (online, or pending after a rendezvous change), itself included. */
  view(): string[] {
    const names = [this.self.host];
    for (const [name, m] of this.members) if (m.status !== 'offline') names.push(name);
    return names.sort();
  }

  /** Known members in rank order, this host included. */
  ranked(): MemberCard[] {
    return [this.self, ...[...this.members.values()].map((m) => m.card)].sort(compareRank);
  }

  directory(now: number): DirectoryEntry[] {
    const out: DirectoryEntry[] = [{ ...this.self, lastSeen: now }];
    for (const m of this.members.values()) out.push({ ...m.card, lastSeen: m.lastSeen });
    return out;
  }

  // ---- events ----

  start(now: number): Action[] {
    if (this.opts.hasSeeds) {
      this.lastBootstrapAt = now;
      return [{ type: 'bootstrap' }];
    }
    return this.plan(now);
  }

  /** A seed's retained directory and presences were read. `hint` is the rendezvous it uses. */
  onBootstrap(now: number, cards: DirectoryEntry[], hint: string | null): Action[] {
    this.bootstrapped = true;
    const out = this.learn(now, cards);
    if (hint && !this.everConnected && hint !== this.self.host && this.members.has(hint)) this.hint = hint;
    return [...out, ...this.plan(now)];
  }

  onBootstrapFailed(now: number): Action[] {
    return this.plan(now);
  }

  onProbe(now: number, host: string, ok: boolean): Action[] {
    this.probing.delete(host);
    this.reach.set(host, { ok, at: now });
    return this.plan(now);
  }

  onConnectFailed(now: number, host: string): Action[] {
    if (this.connecting === host) this.connecting = null;
    if (host === this.self.host) this.selfRetry = selfRetry(this.selfRetry, now, this.opts.timings.probeIntervalMs);
    this.reach.set(host, { ok: false, at: now });
    if (this.hint === host) this.hint = null;
    return [{ type: 'event', name: 'rendezvous-connect-failed', fields: { member: host } }, ...this.plan(now)];
  }

  onSessionUp(now: number, host: string): Action[] {
    const previous = this.session.host;
    if (this.connecting === host) this.connecting = null;
    this.session = { host, up: true, since: now };
    this.everConnected = true;
    if (host === this.self.host) this.selfRetry = null;
    this.hint = null;
    // Members seen on the old broker have `settleMs` to show up on the new one.
    for (const m of this.members.values()) {
      if (m.status === 'online' && previous !== host) {
        m.status = 'pending';
        m.pendingUntil = now + this.opts.timings.settleMs;
      }
    }
    return [
      { type: 'event', name: 'rendezvous-changed', fields: { from: previous, to: host } },
      { type: 'publish-presence' },
      { type: 'publish-directory' },
      ...this.plan(now),
    ];
  }

  onSessionDown(now: number, host: string): Action[] {
    if (this.connecting === host) return this.onConnectFailed(now, host);
    if (this.session.host !== host || !this.session.up) return [];
    this.session = { host, up: false, since: now };
    this.reach.set(host, { ok: false, at: now });
    const out: Action[] = [{ type: 'event', name: 'rendezvous-lost', fields: { member: host } }];
    const lost = this.members.get(host);
    if (lost && lost.status !== 'offline') {
      lost.status = 'offline';
      lost.pendingUntil = null;
      out.push({ type: 'event', name: 'member-left', fields: { member: host, reason: 'its broker is unreachable' } });
    }
    for (const m of this.members.values()) {
      if (m.status === 'online') {
        m.status = 'pending';
        m.pendingUntil = now + this.opts.timings.settleMs;
      }
    }
    return [...out, ...this.plan(now)];
  }

  /** A presence message read on the current rendezvous. */
  onPresence(now: number, p: Presence, selfIncarnation: number): Action[] {
    if (p.cluster !== this.opts.cluster) return [];
    if (p.host === this.self.host) {
      if (p.incarnation !== selfIncarnation && p.state === 'online' && p.incarnation > selfIncarnation) {
        return [{ type: 'event', name: 'duplicate-host-name', fields: { member: p.host, address: p.address } }];
      }
      return [];
    }
    const { host, address, port, priority, cores, memMB } = p;
    const card: MemberCard = { host, address, port, priority, cores, memMB };
    let m = this.members.get(host);
    const out: Action[] = [];
    if (m && p.incarnation < m.incarnation) return []; // an older life of this member
    if (!m) {
      m = { card, status: 'offline', pendingUntil: null, lastSeen: 0, incarnation: p.incarnation, facts: p.facts, movedTo: null, ccp: null, term: 0, unreachable: null, carrier: null };
      this.members.set(host, m);
      out.push({ type: 'persist' }, { type: 'publish-directory' });
    } else if (!sameCard(m.card, card)) {
      m.card = card;
      out.push({ type: 'persist' }, { type: 'publish-directory' });
    }
    m.incarnation = p.incarnation;
    m.facts = p.facts;
    m.ccp = p.ccp;
    m.term = p.term;
    m.unreachable = p.unreachable;
    m.carrier = p.carrier;
    const wasIn = m.status !== 'offline';
    if (p.state === 'online') {
      m.lastSeen = now;
      m.movedTo = null;
      m.status = 'online';
      m.pendingUntil = null;
      if (!wasIn) out.push({ type: 'event', name: 'member-joined', fields: { member: host } });
    } else {
      m.status = 'offline';
      m.pendingUntil = null;
      m.movedTo = p.movedTo;
      if (wasIn) out.push({ type: 'event', name: 'member-left', fields: { member: host, reason: p.movedTo ? `moved to ${p.movedTo}` : 'its session ended (agent stopped, heartbeats or keepalive lapsed)' } });
    }
    return [...out, ...this.plan(now)];
  }

  tick(now: number): Action[] {
    const out: Action[] = [];
    for (const [name, m] of this.members) {
      if (m.status === 'pending' && m.pendingUntil !== null && m.pendingUntil <= now) {
        m.status = 'offline';
        m.pendingUntil = null;
        out.push({ type: 'event', name: 'member-left', fields: { member: name, reason: 'not seen on the new rendezvous' } });
      }
      if (m.status === 'offline' && m.lastSeen > 0 && now - m.lastSeen > this.opts.timings.forgetAfterMs) {
        this.members.delete(name);
        this.reach.delete(name);
        out.push({ type: 'event', name: 'member-forgotten', fields: { member: name } }, { type: 'persist' });
      }
    }
    // Knows nobody yet (the seeds were down): ask the seeds again.
    if (this.opts.hasSeeds && this.members.size === 0 && now - this.lastBootstrapAt >= this.opts.timings.probeIntervalMs) {
      this.lastBootstrapAt = now;
      out.push({ type: 'bootstrap' });
    }
    return [...out, ...this.plan(now)];
  }

  /** The host's own link went away (after the grace) or came back (at once). */
  onLink(now: number, usable: boolean, reason = ''): Action[] {
    if (!usable) {
      if (this.isolated) return [];
      this.isolated = true;
      const out: Action[] = [{ type: 'event', name: 'isolated', fields: { reason } }];
      for (const [name, m] of this.members) {
        this.reach.set(name, { ok: false, at: now });
        if (m.status !== 'offline') {
          m.status = 'offline';
          m.pendingUntil = null;
          out.push({ type: 'event', name: 'member-left', fields: { member: name, reason: 'this host lost its link' } });
        }
      }
      if (this.session.host !== this.self.host && (this.session.up || this.connecting)) {
        this.session = { host: this.session.host, up: false, since: now };
        this.connecting = null;
        out.push({ type: 'drop-session' });
      }
      return [...out, ...this.plan(now)];
    }
    if (!this.isolated) return [];
    this.isolated = false;
    this.reach.clear(); // stale failures must not hold back the reconnection
    this.probing.clear();
    return [{ type: 'event', name: 'link-back', fields: {} }, ...this.plan(now)];
  }

  /**
   * The primary on `host`'s broker left this host out of its cluster (it does not reach every
   * member): use the next-best broker instead, until `readmit`.
   */
  exclude(now: number, host: string): Action[] {
    if (host === this.self.host || this.barred.has(host)) return [];
    this.barred.add(host);
    return [{ type: 'event', name: 'excluded', fields: { rendezvous: host } }, ...this.plan(now)];
  }

  readmit(now: number, host: string): Action[] {
    if (!this.barred.delete(host)) return [];
    return [{ type: 'event', name: 'readmitted', fields: { rendezvous: host } }, ...this.plan(now)];
  }

  get isIsolated(): boolean {
    return this.isolated;
  }

  // ---- the decision ----

  private learn(now: number, cards: DirectoryEntry[]): Action[] {
    let changed = false;
    for (const e of cards) {
      if (e.host === this.self.host) continue;
      const { lastSeen, ...card } = e;
      const m = this.members.get(e.host);
      if (!m) {
        this.members.set(e.host, { card, status: 'offline', pendingUntil: null, lastSeen: Math.min(lastSeen, now), incarnation: 0, facts: null, movedTo: null, ccp: null, term: 0, unreachable: null, carrier: null });
        changed = true;
      } else if (!sameCard(m.card, card)) {
        m.card = card;
        changed = true;
      }
    }
    return changed ? [{ type: 'persist' }, { type: 'publish-directory' }] : [];
  }

  private reachState(host: string, now: number): 'ok' | 'failed' | 'unknown' {
    const r = this.reach.get(host);
    if (!r || now - r.at >= this.opts.timings.probeIntervalMs) return 'unknown';
    return r.ok ? 'ok' : 'failed';
  }

  /** Chooses the rendezvous. Returns the probes still needed and, when decided, a connect. */
  plan(now: number): Action[] {
    if (this.connecting !== null) return [];
    const current = this.session.up && !this.barred.has(this.session.host ?? '') ? this.session.host : null;
    const toProbe: MemberCard[] = [];
    const wantProbe = (c: MemberCard) => {
      if (!this.probing.has(c.host)) {
        this.probing.add(c.host);
        toProbe.push(c);
      }
    };
    const probeAction = (): Action[] => (toProbe.length ? [{ type: 'probe', targets: toProbe }] : []);

    // A newcomer joins the rendezvous its seed named before anything else.
    if (!this.everConnected && this.hint) {
      const hintCard = this.members.get(this.hint)?.card;
      const state = this.reachState(this.hint, now);
      if (hintCard && state === 'ok') return this.connectTo(hintCard);
      if (hintCard && state === 'unknown') {
        wantProbe(hintCard);
        return probeAction();
      }
      this.hint = null;
    }
    // Before the first bootstrap answer, do not settle on a lesser broker.
    if (this.opts.hasSeeds && !this.bootstrapped && !this.everConnected && this.members.size === 0 && now - this.lastBootstrapAt < this.opts.timings.probeIntervalMs) {
      return [];
    }

    const barred = this.selfRetry && now < this.selfRetry.until ? new Set([...this.barred, this.self.host]) : this.barred;
    const choice = chooseRendezvous(this.ranked(), { self: this.self.host, current, barred, reach: (h) => this.reachState(h, now) });
    for (const c of choice.probe) wantProbe(c);
    const target = choice.target;
    const out = probeAction();
    if (target && target.host !== current) out.push(...this.connectTo(target));
    return out;
  }

  private connectTo(target: MemberCard): Action[] {
    this.connecting = target.host;
    return [{ type: 'connect', target }];
  }

  /** Everything status needs from the core. */
  snapshot(now: number): MembershipSnapshot {
    return {
      rendezvous: { host: this.session.host, connected: this.session.up, since: this.session.since, connecting: this.connecting },
      view: this.view(),
      members: memberRows(this.members.values(), now),
      rankOrder: this.ranked().map((c) => c.host),
      isolated: this.isolated,
      barred: [...this.barred].sort(),
    };
  }
}

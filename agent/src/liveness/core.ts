import type { Heartbeat } from './packet.js';

/**
 * Peer liveness from heartbeats: pure logic, no I/O, time passed in (docs/liveness.md).
 *
 * Why not the MQTT keepalive alone: one TCP stream stalls for seconds when a few segments in a
 * row are lost (retransmission backs off 200 ms, 400 ms, 800 ms, …), so on a lossy cable a
 * tight keepalive drops sessions that are fine, and a loose one notices a pulled cable late.
 * Heartbeats are independent datagrams: with 10 per second and 19 % loss on a path, a full
 * second of silence happens by chance with odds of 0.19^10 ≈ 6·10⁻⁸, whereas a pulled cable
 * gives it every time. So silence for `deadAfterMs` is the verdict, and the keepalive can be
 * loose (a backstop for peers that send no heartbeats).
 *
 * - A peer is `waiting` until its first heartbeat: only a peer that was heard can be declared
 *   `down`, so a host whose heartbeats are filtered falls back to the keepalive.
 * - Heartbeats are sent to the watched peers and, for as long as they keep sending, to peers
 *   that send to this host (so each side of a pair watches the other).
 * - Anti-replay: a peer's heartbeats must carry its current incarnation (from its presence,
 *   which only that host can publish; or a newer one) and a rising sequence number; a sender not
 *   tracked yet is answered only when its current presence vouches for its incarnation (a
 *   stopped host's recorded datagrams are not, however long ago this host forgot it).
 * - A pause of this process (a stalled event loop) is not the peers' silence: the time a tick
 *   came late is credited to every peer.
 * - Two kinds of watched peer. `watch` (the rendezvous, and a rendezvous' clients): a heartbeat
 *   every heartbeatMs, `down` after deadAfterMs, and an event that ends the peer's session.
 *   `mesh` (the other members of the view): a heartbeat every meshHeartbeatMs, only to learn
 *   whom this host reaches (`reach`): a member that has not been heard for unreachableAfterMs
 *   (heard before or not) is unreachable, which the primary uses to keep every cluster a
 *   group of hosts that all reach each other (docs/election.md, "Cliques").
 */
export interface LivenessTimings {
  heartbeatMs: number;
  deadAfterMs: number;
  meshHeartbeatMs: number;
  unreachableAfterMs: number;
}

export type PeerKind = 'watch' | 'mesh';
export type Reach = 'yes' | 'no' | 'unknown';

export type PeerState = 'waiting' | 'up' | 'down';

export interface WatchedPeer {
  host: string;
  address: string;
  port: number;
  /** The incarnation its presence announced, if known. */
  incarnation: number | null;
  kind: PeerKind;
}

export interface LivenessEvent {
  host: string;
  state: 'up' | 'down';
  /** down: how long the peer had been silent. */
  silentMs?: number;
}

export type HeartbeatVerdict = 'accepted' | 'self' | 'replayed' | 'stale-incarnation' | 'full' | 'unadmitted';

interface Peer {
  host: string;
  address: string;
  port: number;
  /** null: not watched, answered only while it sends. */
  kind: PeerKind | null;
  /** How it was last watched (kept once it is not: the rate it was heard at). */
  lastKind: PeerKind | null;
  /** Since when it has been watched (a member never heard is unreachable only after a while). */
  since: number;
  lastSent: number;
  state: PeerState;
  incarnation: number | null;
  seq: number;
  lastHeard: number | null;
}

export class LivenessCore {
  private readonly peers = new Map<string, Peer>();
  private lastTick: number | null = null;
  private seq = 0;
  private heardAny = false;
  /** When this host's own link last came back: its peers' silence before that is not theirs. */
  private linkBackAt = -Infinity;

  constructor(
    readonly self: string,
    readonly incarnation: number,
    private readonly t: LivenessTimings,
    private readonly maxPeers = 256,
  ) {}

  /** The peers this host must watch now; the others are kept only while they send. */
  watch(now: number, peers: WatchedPeer[]): void {
    const wanted = new Map(peers.filter((p) => p.host !== this.self).map((p) => [p.host, p]));
    for (const p of this.peers.values()) if (!wanted.has(p.host)) p.kind = null;
    for (const w of wanted.values()) {
      let p = this.peers.get(w.host);
      if (!p) {
        if (this.peers.size >= this.maxPeers) continue;
        p = { host: w.host, address: w.address, port: w.port, kind: null, lastKind: null, since: now, lastSent: -Infinity, state: 'waiting', incarnation: null, seq: -1, lastHeard: null };
        this.peers.set(w.host, p);
      }
      if (p.kind === null) p.since = now;
      p.kind = w.kind;
      p.lastKind = w.kind;
      p.address = w.address;
      p.port = w.port;
      // The presence names the peer's current incarnation: older heartbeats are replays. A peer
      // whose clock went back across a reboot (a Pi has no RTC) gets a lower one, and is taken
      // at its word, since only that host could have published that presence.
      if (w.incarnation !== null && w.incarnation !== p.incarnation && !(p.incarnation !== null && w.incarnation < p.incarnation && p.state === 'up')) {
        // A peer back from a restart: its silence while it was away says nothing about whether
        // this host reaches it now. Until its first heartbeat (or unreachableAfterMs), unknown.
        if (p.incarnation !== null && p.state !== 'up') {
          p.since = now;
          p.lastHeard = null;
        }
        p.incarnation = w.incarnation;
        p.seq = -1;
      }
    }
  }

  /** A verified heartbeat. `admitted`: the sender's current presence vouches for this
   * incarnation (needed only for a sender this host does not track yet). */
  onHeartbeat(now: number, hb: Heartbeat, from: { address: string; port: number }, admitted = true): { verdict: HeartbeatVerdict; events: LivenessEvent[] } {
    if (hb.host === this.self) return { verdict: 'self', events: [] };
    let p = this.peers.get(hb.host);
    if (!p) {
      if (!admitted) return { verdict: 'unadmitted', events: [] };
      if (this.peers.size >= this.maxPeers) return { verdict: 'full', events: [] };
      p = { host: hb.host, address: from.address, port: from.port, kind: null, lastKind: null, since: now, lastSent: -Infinity, state: 'waiting', incarnation: null, seq: -1, lastHeard: null };
      this.peers.set(hb.host, p);
    }
    if (p.incarnation !== null && hb.incarnation < p.incarnation) return { verdict: 'stale-incarnation', events: [] };
    if (p.incarnation === hb.incarnation && hb.seq <= p.seq) return { verdict: 'replayed', events: [] };
    p.incarnation = hb.incarnation;
    p.seq = hb.seq;
    // `now` is the datagram's arrival time; those of one batch come in order, but never go back.
    p.lastHeard = p.lastHeard === null ? now : Math.max(p.lastHeard, now);
    this.heardAny = true;
    // An unwatched peer is answered at the address it sends from.
    if (p.kind === null) {
      p.address = from.address;
      p.port = from.port;
    }
    if (p.state === 'up') return { verdict: 'accepted', events: [] };
    p.state = 'up';
    return { verdict: 'accepted', events: [{ host: p.host, state: 'up' }] };
  }

  /** Called every heartbeatMs: who to send a heartbeat to, and who has gone silent. */
  tick(now: number): { send: { host: string; address: string; port: number }[]; heartbeat: Heartbeat; events: LivenessEvent[] } {
    const prev = this.lastTick;
    const late = prev === null ? 0 : now - prev - this.t.heartbeatMs;
    this.lastTick = now;
    const events: LivenessEvent[] = [];
    const send: { host: string; address: string; port: number }[] = [];
    for (const p of this.peers.values()) {
      if (late > this.t.heartbeatMs) {
        // The pause began when this tick was due (prev + heartbeatMs). Silence from before it is
        // credited; a heartbeat that arrived during it (its arrival time is known) is news.
        if (p.lastHeard !== null && prev !== null && p.lastHeard <= prev + this.t.heartbeatMs) p.lastHeard = Math.min(now, p.lastHeard + late);
        p.since += late;
      }
      const silent = this.silence(p.host, now);
      // At the rate the peer is heard: one no longer watched keeps its last kind's deadline (a
      // former mesh peer is not down after two lost heartbeats, and `down` stands, see dead).
      const deadline = this.deadlineOf(p);
      if (p.state === 'up' && silent !== null && silent > deadline) {
        p.state = 'down';
        // Only a watched peer's death ends sessions; a mesh peer's shows in `reach`.
        if (p.kind !== 'mesh') events.push({ host: p.host, state: 'down', silentMs: silent });
      }
      if (p.kind === null && (silent === null || silent > 3 * this.t.deadAfterMs)) {
        this.peers.delete(p.host);
        continue;
      }
      // Watched peers, and peers that send to this host (they watch it), every heartbeatMs;
      // mesh peers every meshHeartbeatMs.
      const every = p.kind === 'mesh' ? this.t.meshHeartbeatMs : 0;
      if ((p.kind !== null || p.state === 'up') && now - p.lastSent >= every - this.t.heartbeatMs / 2) {
        p.lastSent = now;
        send.push({ host: p.host, address: p.address, port: p.port });
      }
    }
    this.seq = (this.seq + 1) >>> 0;
    return { send, heartbeat: { host: this.self, incarnation: this.incarnation, seq: this.seq }, events };
  }

  state(host: string): PeerState | null {
    return this.peers.get(host)?.state ?? null;
  }

  /** The silence after which `p` is dead, at the rate it is heard (a peer no longer watched: its last kind's). */
  private deadlineOf(p: { kind: PeerKind | null; lastKind: PeerKind | null }): number {
    return (p.kind ?? p.lastKind) === 'mesh' ? this.t.unreachableAfterMs : this.t.deadAfterMs;
  }

  /** How long `host` has been silent (null: never heard). */
  silence(host: string, now: number): number | null {
    const p = this.peers.get(host);
    // Not longer than since this host's own link came back (ownLinkBack): before, it was its own.
    return p?.lastHeard === null || p === undefined ? null : Math.min(now - p.lastHeard, now - this.linkBackAt);
  }

  /**
   * Is `host` gone by its heartbeats, at the rate this host hears it: silent for deadAfterMs
   * (ten heartbeats) if it was watched, for unreachableAfterMs if it was a mesh peer (1 s is only
   * two of a mesh peer's heartbeats: a lossy link, not a verdict). False when never heard. A
   * verdict a tick reached stands until the peer is heard again: a watched peer declared down and
   * then watched more slowly (evicted from the view, the CCP host stays a mesh peer) is still
   * dead, not alive again until unreachableAfterMs (that held members on a dead CCP, measured).
   */
  dead(host: string, now: number): boolean {
    const p = this.peers.get(host);
    const silent = this.silence(host, now);
    if (!p || silent === null) return false;
    return p.state === 'down' || silent >= this.deadlineOf(p);
  }

  /**
   * This host's own link is back (it was isolated): the silence of its peers while it was cut
   * off says nothing about them. The verdicts of that time are dropped (a peer is `waiting`
   * again until it is heard), and `dead` counts silence from now: a host coming back from
   * isolation must not take the other side's CCP host for gone, or the members arriving from that
   * side would be claimed before the merge rule could count them (measured, after a 1.5 s cut).
   * `silence` (and so `quiet`, `untilDead` and the election's CCP verdict) starts from now too.
   */
  ownLinkBack(now: number): void {
    this.linkBackAt = now;
    for (const p of this.peers.values()) if (p.state === 'down') p.state = 'waiting';
  }

  /** How long until `host` is dead by its heartbeats if it stays silent (0: it is; null: never
   * heard, so its silence decides nothing). */
  untilDead(host: string, now: number): number | null {
    const p = this.peers.get(host);
    const silent = this.silence(host, now);
    if (!p || silent === null) return null;
    if (this.dead(host, now)) return 0;
    return this.deadlineOf(p) - silent;
  }

  /** Has `host` been silent for longer than its heartbeat period and three more heartbeats
   * (a pause worth probing for)? False when it was never heard. */
  quiet(host: string, now: number): boolean {
    const p = this.peers.get(host);
    const silent = this.silence(host, now);
    const period = p?.kind === 'watch' ? this.t.heartbeatMs : this.t.meshHeartbeatMs;
    return silent !== null && silent >= period + 3 * this.t.heartbeatMs;
  }

  /** Does this host reach `host`? yes: heard within unreachableAfterMs; no: not heard for that
   * long while watched; unknown otherwise (or when no heartbeat has ever arrived here: then
   * they are filtered, and silence says nothing). */
  reach(host: string, now: number): Reach {
    const p = this.peers.get(host);
    if (!p || !this.heardAny) return 'unknown';
    if (p.lastHeard !== null && now - p.lastHeard <= this.t.unreachableAfterMs) return 'yes';
    return p.kind !== null && now - p.since >= this.t.unreachableAfterMs ? 'no' : 'unknown';
  }

  snapshot(now: number) {
    return [...this.peers.values()]
      .sort((a, b) => a.host.localeCompare(b.host))
      .map((p) => ({ host: p.host, state: p.state, kind: p.kind, silentMs: p.lastHeard === null ? null : now - p.lastHeard }));
  }
}

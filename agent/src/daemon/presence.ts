import type { CcpReport, Claim, Facts, MemberCard, Presence } from '../contract/index.js';
import { servedClusterSize } from '../election/core.js';

/** Where a presence's fields come from. */
export interface PresencePorts {
  card(): MemberCard;
  facts(): Facts;
  /** The broker this agent is a client of. */
  rendezvous(): string | null;
  /** What runs here of the CCP, and this host's judgement of whether it reaches its CCP. */
  ccpReport(): CcpReport;
  ccpReach(): boolean | null;
  claim(): Claim | null;
  isolated(): boolean;
  term(): number;
  unreachable(): string[] | null;
  carrier(): boolean | null;
  now(): number;
}

/**
 * This host's presence (contract/messages.ts): its card and facts, its incarnation and a rising
 * sequence number, and what it runs of the CCP.
 */
export class PresenceSource {
  private seq = 0;
  private served: number | null = null;

  constructor(private readonly cluster: string, readonly incarnation: number, private readonly cert: string, private readonly p: PresencePorts) {}

  /** The CCP report with reach and, for a server, the size of the cluster it serves. */
  ccp(): CcpReport {
    const r = this.p.ccpReport();
    this.served = servedClusterSize(this.served, { self: this.p.card().host, claim: this.p.claim(), isolated: this.p.isolated(), serving: r.role === 'server' });
    return { ...r, reach: this.p.ccpReach(), clusterSize: this.served };
  }

  build(state: 'online' | 'offline', movedTo: string | null = null, rendezvous = this.p.rendezvous()): Presence {
    return {
      v: 1,
      cluster: this.cluster,
      ...this.p.card(),
      state,
      incarnation: this.incarnation,
      seq: ++this.seq,
      rendezvous,
      movedTo,
      facts: this.p.facts(),
      ccp: this.ccp(),
      term: this.p.term(),
      unreachable: this.p.unreachable(),
      carrier: this.p.carrier(),
      cert: this.cert,
      ts: this.p.now(),
    };
  }
}

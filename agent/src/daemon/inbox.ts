import { decode, decodeSigned, emptyDropCounters, parseTopic, type Claim, type ClusterConfigMessage, type DropReason, type Presence } from '../contract/index.js';
import type { Sealer } from '../contract/envelope.js';
import type { KeyRing } from '../trust/keyring.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';

/** Where verified messages go, one handler per kind. */
export interface InboxHandlers {
  presence(p: Presence): void;
  claim(c: Claim, signer: string): void;
  config(m: ClusterConfigMessage, signer: string): void;
}

/**
 * Every message from the rendezvous broker enters here: its topic is parsed, its payload checked
 * (contract/codec.ts: sizes and signatures before any JSON), its sender compared with the topic's
 * host, and it is handed to one handler per kind. Whatever a handler throws is caught and
 * counted: no payload can end the process. Drops are counted by reason and logged at most once
 * per 10 s per reason.
 */
export class Inbox {
  readonly drops = emptyDropCounters();
  private readonly dropLog = new RateLimitedLog(10_000);

  constructor(private readonly cluster: string, private readonly keys: KeyRing, private readonly sealer: Sealer, private readonly h: InboxHandlers, private readonly log: Logger) {}

  onMessage(topic: string, payload: Buffer): void {
    try {
      this.dispatch(topic, payload);
    } catch (err) {
      this.dropped('handler', `${topic}: ${errorMessage(err)}`, topic);
    }
  }

  private dispatch(topic: string, payload: Buffer): void {
    const t = parseTopic(this.cluster, topic);
    if (!t) return this.dropped('mismatch', topic, 'session');
    switch (t.kind) {
      case 'presence': {
        const d = decode('presence', payload);
        if (!d.ok) return this.dropped(d.reason, d.detail, topic);
        if (d.msg.host !== t.host) return this.dropped('mismatch', `presence of ${d.msg.host} on ${topic}`, topic);
        // Its certificate must be the cluster CA's, for this host: the key of its heartbeats.
        if (!this.keys.learn(d.msg.host, Buffer.from(d.msg.cert, 'base64'))) return this.dropped('signature', `presence of ${d.msg.host} with a certificate not issued to it by the cluster CA`, topic);
        return this.h.presence(d.msg);
      }
      case 'claim': {
        // An empty retained claim is a withdrawn one (its primary left its own broker,
        // daemon/rendezvous.ts): nothing to verify, nothing to obey.
        if (payload.length === 0) return;
        const d = decodeSigned('claim', payload, this.keys, this.sealer);
        if (!d.ok) return this.dropped(d.reason, d.detail, topic);
        if (d.signer !== t.host) return this.dropped('mismatch', `claim signed by ${d.signer} on ${topic}`, topic);
        return this.h.claim(d.msg, d.signer);
      }
      case 'config': {
        const d = decodeSigned('config', payload, this.keys, this.sealer);
        if (!d.ok) return this.dropped(d.reason, d.detail, topic);
        if (d.signer !== t.host) return this.dropped('mismatch', `config signed by ${d.signer} on ${topic}`, topic);
        return this.h.config(d.msg, d.signer);
      }
      case 'directory':
      case 'state':
      case 'event':
        return; // directories are read by newcomers from a seed (transport/bootstrap.ts); state and events by observers
    }
  }

  dropped(reason: DropReason, detail: string, where: string): void {
    this.drops[reason]++;
    const suppressed = this.dropLog.admit(reason);
    if (suppressed !== null) this.log.warn({ reason, detail, where, suppressedSinceLast: suppressed, total: this.drops[reason] }, 'dropped a message');
  }
}

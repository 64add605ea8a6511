import { CONTRACT, encode, encodeSigned, topicFor, type PayloadOf, type TopicKind } from '../contract/index.js';
import type { Sealer, Signer } from '../contract/envelope.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';

/** Where a publish goes: the session to the rendezvous broker (null while there is none). */
export interface PublishSink {
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void>;
}

/**
 * The one way a message leaves this agent: topic, encoding (JSON or signed envelope), QoS and
 * retain flag all come from the contract (contract/mqtt.ts).
 */
export class Publisher {
  constructor(private readonly o: { cluster: string; self: string; signer: Signer; sealer: Sealer; log: Logger }) {}

  topic(kind: TopicKind): string {
    return topicFor(kind, this.o.cluster, this.o.self);
  }

  payload<K extends TopicKind>(kind: K, msg: PayloadOf<K>): Buffer {
    return CONTRACT[kind].encoding === 'envelope' ? encodeSigned(kind as 'claim', msg as PayloadOf<'claim'>, this.o.signer, this.o.sealer) : encode(kind as 'presence', msg as PayloadOf<'presence'>);
  }

  /** The message as an MQTT will (or for publishing by the broker itself). */
  packet<K extends TopicKind>(kind: K, msg: PayloadOf<K>): { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean } {
    return { topic: this.topic(kind), payload: this.payload(kind, msg), qos: CONTRACT[kind].qos, retain: CONTRACT[kind].retain };
  }

  async publish<K extends TopicKind>(sink: PublishSink | null, kind: K, msg: PayloadOf<K>): Promise<void> {
    if (!sink) return;
    try {
      const p = this.packet(kind, msg);
      await sink.publish(p.topic, p.payload, p.qos, p.retain);
    } catch (err) {
      this.o.log.warn({ kind, err: errorMessage(err) }, 'publish failed');
    }
  }
}

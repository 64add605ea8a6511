import { describe, expect, it } from 'vitest';
import { topicFor } from '../../agent/src/contract/index.js';
import type { Sealer } from '../../agent/src/contract/envelope.js';
import { Inbox } from '../../agent/src/daemon/inbox.js';
import { silentLogger } from '../../agent/src/log/logger.js';
import type { KeyRing } from '../../agent/src/trust/keyring.js';

/** Keys that refuse every signature: what is left to see is what the inbox does before them. */
const refuseAll = { verify: () => false, learn: () => false } as unknown as KeyRing;
const noSealer = { open: () => null } as unknown as Sealer;

function inbox() {
  const got: string[] = [];
  const box = new Inbox('c', refuseAll, noSealer, { presence: () => got.push('presence'), claim: () => got.push('claim'), config: () => got.push('config') }, silentLogger());
  return { box, got };
}

describe('inbox', () => {
  it('an empty retained claim (withdrawn by its primary) is neither obeyed nor counted as a dropped message', () => {
    const { box, got } = inbox();
    box.onMessage(topicFor('claim', 'c', 'h2'), Buffer.alloc(0));
    expect(got).toEqual([]);
    expect(Object.values(box.drops).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('…while any other claim payload is checked, and one that fails is counted', () => {
    const { box, got } = inbox();
    box.onMessage(topicFor('claim', 'c', 'h2'), Buffer.from('not an envelope'));
    box.onMessage(topicFor('config', 'c', 'h2'), Buffer.alloc(0));
    expect(got).toEqual([]);
    expect(Object.values(box.drops).reduce((a, b) => a + b, 0)).toBe(2);
  });
});

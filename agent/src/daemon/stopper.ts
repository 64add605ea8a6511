import { errorMessage } from '../util/errors.js';

/**
 * Stops what was started, the last started first. Every part's stop runs even when an earlier
 * one fails; the failures are collected and thrown together, so that the caller's exit status
 * reports them all (as zigbee2mqtt's controller does).
 */
export class Stopper {
  private readonly parts: { name: string; stop: () => unknown }[] = [];
  stopping = false;

  add(name: string, stop: () => unknown): void {
    this.parts.push({ name, stop });
  }

  async stopAll(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const failures: string[] = [];
    for (const p of this.parts.splice(0).reverse()) {
      try {
        await p.stop();
      } catch (err) {
        failures.push(`${p.name}: ${errorMessage(err)}`);
      }
    }
    if (failures.length > 0) throw new Error(`stopping failed for ${failures.length} part${failures.length === 1 ? '' : 's'}: ${failures.join('; ')}`);
  }
}

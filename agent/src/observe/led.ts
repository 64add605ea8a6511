import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a host is, for its board LED. */
export type LedRole = 'primary' | 'ccp-host' | 'follower' | 'cut-off';

/** The LED pattern of a role, through the kernel's LED triggers (pure). */
export function ledPattern(role: LedRole): { trigger: 'heartbeat' | 'timer' | 'none'; brightness: 0 | 1 } {
  switch (role) {
    case 'primary':
      return { trigger: 'heartbeat', brightness: 1 };
    case 'ccp-host':
      return { trigger: 'none', brightness: 1 };
    case 'cut-off':
      return { trigger: 'timer', brightness: 1 };
    case 'follower':
      return { trigger: 'none', brightness: 0 };
  }
}

/**
 * A Pi's board LED (`ACT` or `led0`) under /sys/class/leds: the role shown by a trigger and a
 * brightness, written only when the role changes. A failed write is reported once and the LED
 * left alone (a board without that LED, or no permission).
 */
export class BoardLed {
  private shown: LedRole | null = null;
  private failed = false;

  constructor(private readonly dir: string, private readonly onError: (err: Error) => void) {}

  static at(root: string, name: string, onError: (err: Error) => void): BoardLed {
    return new BoardLed(join(root, name), onError);
  }

  show(role: LedRole): void {
    if (role === this.shown || this.failed) return;
    const p = ledPattern(role);
    try {
      writeFileSync(join(this.dir, 'trigger'), p.trigger);
      // The timer and heartbeat triggers blink by themselves; brightness only for a steady LED.
      if (p.trigger === 'none') writeFileSync(join(this.dir, 'brightness'), String(p.brightness));
      this.shown = role;
    } catch (err) {
      this.failed = true;
      this.onError(err as Error);
    }
  }
}

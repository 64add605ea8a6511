import type { SdNotify } from '../notify/sd-notify.js';
import type { Logger } from '../log/logger.js';
import { errorMessage } from '../util/errors.js';

/** systemd's view of the agent (Type=notify, watchdog): READY, STATUS lines, WATCHDOG pings. */
export class NotifyShell {
  private notify: SdNotify | null = null;
  private text = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly env: NodeJS.ProcessEnv, private readonly log: Logger) {}

  async start(status: string): Promise<void> {
    if (!this.env.NOTIFY_SOCKET) return;
    const { SdNotify } = await import('../notify/sd-notify.js');
    this.notify = SdNotify.fromEnv(this.env);
    this.send('READY=1');
    this.status(status);
    const every = SdNotify.watchdogIntervalMs(this.env);
    if (every) {
      this.timer = setInterval(() => this.send('WATCHDOG=1'), every);
      this.timer.unref();
    }
  }

  /** Sends STATUS= when the line changed. */
  status(text: string): void {
    if (!this.notify || text === this.text) return;
    this.text = text;
    this.send(`STATUS=${text}`);
  }

  private send(state: string): void {
    try {
      this.notify?.send(state);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'sd_notify failed');
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.send('STOPPING=1');
    this.notify?.close();
    this.notify = null;
  }
}

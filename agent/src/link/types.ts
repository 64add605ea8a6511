/** One link's state as read from netlink (RTM_NEWLINK / RTM_DELLINK, or a dump entry). */
export interface LinkEvent {
  /** Wall-clock ms since the epoch (sub-millisecond precision), taken when the event was read. */
  ts: number;
  kind: 'dump' | 'new' | 'del';
  ifindex: number;
  ifname: string | null;
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier (IFLA_CARRIER, or IFF_LOWER_UP where the attribute is absent). */
  carrier: boolean;
  operstate: string;
  /** IFLA_CARRIER_CHANGES: how often the carrier changed since the link was created. */
  changes: number | null;
  mtu: number | null;
  mac: string | null;
}

export type LinkBackend = 'native' | 'ffi' | 'mock';

export interface LinkWatcher {
  readonly backend: LinkBackend;
  /** Starts watching; the first events are a dump of every link. */
  start(onEvents: (events: LinkEvent[]) => void, onError?: (err: Error) => void): void;
  close(): void;
}

export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;

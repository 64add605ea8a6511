import { createHash } from 'node:crypto';
import { run, tryRun } from '../util/exec.js';

/**
 * Real Linux network namespaces: a switch namespace with a bridge, one namespace per host
 * with its own eth0, joined by a veth "cable" whose switch end is the host's switch port.
 * A cable is pulled on the switch side (the host then sees carrier loss, as with a real
 * cable); never by deleting a veth end, which would destroy both.
 */
export const BRIDGE = 'br0';

export async function listNamespaces(): Promise<string[]> {
  const out = await run(['ip', 'netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean);
}

export async function createSwitch(ns: string): Promise<void> {
  await run(['ip', 'netns', 'add', ns]);
  await run(['ip', '-n', ns, '-batch', '-'], {
    input: [`link set lo up`, `link add ${BRIDGE} type bridge forward_delay 0 stp_state 0 mcast_snooping 0`, `link set ${BRIDGE} up`].join('\n') + '\n',
  });
}

export interface HostSpec {
  ns: string;
  address: string;
  prefix: number;
  mac: string;
  port: string;
  portMac: string;
}

export async function createHost(switchNs: string, h: HostSpec): Promise<void> {
  await run(['ip', 'netns', 'add', h.ns]);
  await run(['ip', 'link', 'add', 'eth0', 'netns', h.ns, 'address', h.mac, 'type', 'veth', 'peer', 'name', h.port, 'netns', switchNs, 'address', h.portMac]);
  await run(['ip', '-n', h.ns, '-batch', '-'], {
    input: [`link set lo up`, `addr add ${h.address}/${h.prefix} dev eth0`, `link set eth0 up`].join('\n') + '\n',
  });
  await run(['ip', '-n', switchNs, 'link', 'set', h.port, 'master', BRIDGE, 'up']);
}

export async function setPort(switchNs: string, port: string, up: boolean): Promise<void> {
  await run(['ip', '-n', switchNs, 'link', 'set', port, up ? 'up' : 'down']);
}

/** After a cable comes back, stale neighbour entries would delay the first packets (~0.5 s). */
export async function flushNeighbours(namespaces: string[]): Promise<void> {
  await Promise.all(namespaces.map((ns) => tryRun(['ip', '-n', ns, 'neigh', 'flush', 'dev', 'eth0'])));
}

export async function loadRuleset(switchNs: string, ruleset: string): Promise<void> {
  await run(['ip', 'netns', 'exec', switchNs, 'nft', '-f', '-'], { input: ruleset });
}

export async function deleteNamespace(ns: string): Promise<boolean> {
  return tryRun(['ip', 'netns', 'delete', ns]);
}

/** A fixed, locally administered MAC per lab, kind (host side, switch side) and host index. */
export function macFor(lab: string, kind: number, i: number): string {
  const h = createHash('sha256').update(lab).digest();
  return ['02', kind.toString(16).padStart(2, '0'), h[0]!.toString(16).padStart(2, '0'), h[1]!.toString(16).padStart(2, '0'), ((i >> 8) & 255).toString(16).padStart(2, '0'), (i & 255).toString(16).padStart(2, '0')].join(':');
}

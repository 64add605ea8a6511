import { isIP } from 'node:net';
import { z } from 'zod';
import { CcpHostSchema } from './ccp.js';

import { NAME_RE } from './names.js';


const name = (what: string) =>
  z.string().regex(NAME_RE, `${what} must be a DNS label: lower-case letters, digits and '-', at most 63 characters`);

const address = z.string().refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address (not a host name)');

/** "10.0.0.1", "10.0.0.1:1883", "[fd00::1]:1883" */
export const SEED_RE = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/;
const seed = z.string().refine((s) => {
  const m = SEED_RE.exec(s);
  if (!m) return false;
  const host = m[1] ?? m[2] ?? '';
  const port = m[3] === undefined ? 1883 : Number(m[3]);
  return isIP(host) !== 0 && port > 0 && port < 65536;
}, 'must be ADDRESS or ADDRESS:PORT, with IPv6 addresses in brackets');

const ms = (min: number, max: number, def: number) => z.number().int().min(min).max(max).default(def);

export const TimingsSchema = z
  .strictObject({
    /** MQTT keepalive towards the rendezvous broker, in whole seconds (the protocol's unit). A
     * backstop: peers are watched by heartbeats (below); the keepalive only decides for a peer
     * whose heartbeats never arrive. Loose, so that a lossy link does not drop sessions. */
    keepaliveSec: z.number().int().min(1).max(60).default(5),
    /** How often a heartbeat datagram goes to each watched peer (docs/liveness.md). */
    heartbeatMs: ms(20, 5000, 100),
    /** A peer that was heard and then stays silent this long is down (its session is dropped). */
    deadAfterMs: ms(100, 60_000, 1000),
    /** How often a heartbeat goes to each other member of the view, to learn whom this host reaches. */
    meshHeartbeatMs: ms(50, 60_000, 500),
    /** A member not heard for this long is unreachable from this host (docs/election.md, "Cliques"). */
    unreachableAfterMs: ms(500, 600_000, 5000),
    /** How long a TCP probe of a peer's broker may take before the peer counts as unreachable. */
    probeTimeoutMs: ms(50, 10_000, 500),
    /** How often better-ranked, unreachable peers are probed again (this bounds how fast a heal is seen). */
    probeIntervalMs: ms(100, 60_000, 1000),
    /** After a change of rendezvous, how long members of the old view have to appear on the new one. */
    settleMs: ms(100, 60_000, 2000),
    /** How long a newcomer reads a seed's retained directory before deciding. */
    bootstrapWaitMs: ms(50, 10_000, 400),
    /** How often the host facts (load, temperature) are refreshed and republished if they changed. */
    factsIntervalMs: ms(1000, 3_600_000, 15_000),
    /** The period of the core's timer. */
    tickMs: ms(20, 5000, 250),
    /** Members not seen for this long are forgotten (no longer probed). */
    forgetAfterMs: ms(60_000, 30 * 86_400_000, 86_400_000),
    /** Election (docs/election.md): how long a view must hold still before its primary publishes a claim. */
    claimHoldMs: ms(0, 10_000, 300),
    /** The CCP counts as lost after this many failed probes in a row… */
    ccpLossProbes: z.number().int().min(1).max(20).default(2),
    /** …spanning at least this long (one lost probe is not a failover). */
    ccpLossMs: ms(0, 60_000, 1000),
    /** A host left alone by a lost session (or just restarted) waits this long to rejoin before starting its own CCP. */
    rejoinGraceMs: ms(0, 300_000, 10_000),
    /** How long a CCP host's agent must answer from outside the view before its CCP is not this cluster's. */
    ccpElsewhereMs: ms(0, 300_000, 5000),
    /** How long a CCP probe result stays valid. */
    reachFreshMs: ms(1000, 300_000, 5000),
    /** The CCP this host runs or follows is probed this often while all is calm… */
    ccpProbeMs: ms(250, 60_000, 2000),
    /** …and this often while a decision may hang on it (its host's heartbeats pause, it is out of the view, or this host's own server is not ready yet). */
    ccpFastProbeMs: ms(50, 10_000, 250),
    /** Deadline of a follower's probe of the CCP port and of a probe of the CCP host's agent (three connects at once). */
    ccpProbeTimeoutMs: ms(50, 10_000, 1500),
    /** …and once the CCP host is dead by its heartbeats (ten missed): a host that is silent and
     * does not complete a TCP handshake in this time is gone (one such failure is the CCP's loss). */
    ccpDeadProbeTimeoutMs: ms(20, 10_000, 300),
    /** A host whose CCP failed to start is skipped for placement this long. */
    ccpFailedRetryMs: ms(1000, 3_600_000, 30_000),
    /** A failed CCP operation is tried again after ccpRetryFirstMs, doubling up to ccpRetryMaxMs. */
    ccpRetryFirstMs: ms(10, 60_000, 1000),
    ccpRetryMaxMs: ms(100, 3_600_000, 30_000),
    /** The CCP host reads its API's node list this often once every member is a Ready node in it
     * (until then at every probe). */
    ccpNodesMs: ms(1000, 600_000, 10_000),
    /** The CCP host announces the cluster's virtual address (gratuitous ARP) when it takes it,
     * then 1 s, 2 s, 4 s… later up to this interval (at its probes); silent while a merge is
     * contested, then at once again. */
    vipAnnounceMs: ms(1000, 600_000, 10_000),
    /** While following another CCP, a server still running here is looked for this often (and archived). */
    ccpStraySweepMs: ms(1000, 600_000, 10_000),
    /** An excluded host tries the broker that left it out again after this long at most. */
    excludedRetryMs: ms(1000, 3_600_000, 60_000),
    /** Changes within this window go out as one presence / directory / membership write. */
    presenceDebounceMs: ms(0, 10_000, 50),
    directoryDebounceMs: ms(0, 10_000, 200),
    persistDebounceMs: ms(0, 60_000, 1000),
    /** The slow host facts (model, temperature) are read once, at a random time within this window after start (hosts booting together do not all probe at once). */
    factsJitterMs: ms(0, 600_000, 3000),
  })
  .refine((t) => t.probeTimeoutMs < t.probeIntervalMs, {
    message: 'probeTimeoutMs must be shorter than probeIntervalMs',
    path: ['probeTimeoutMs'],
  })
  .refine((t) => t.deadAfterMs >= 5 * t.heartbeatMs, {
    message: 'deadAfterMs must be at least 5 heartbeats (5 × heartbeatMs), or a few lost datagrams would count as a dead peer',
    path: ['deadAfterMs'],
  })
  .refine((t) => t.ccpRetryFirstMs <= t.ccpRetryMaxMs, {
    message: 'ccpRetryFirstMs must not exceed ccpRetryMaxMs',
    path: ['ccpRetryFirstMs'],
  })
  .refine((t) => t.ccpFastProbeMs <= t.ccpProbeMs, {
    message: 'ccpFastProbeMs must not exceed ccpProbeMs',
    path: ['ccpFastProbeMs'],
  })
  .refine((t) => t.unreachableAfterMs >= 5 * t.meshHeartbeatMs, {
    message: 'unreachableAfterMs must be at least 5 mesh heartbeats (5 × meshHeartbeatMs)',
    path: ['unreachableAfterMs'],
  });

export const ConfigSchema = z
  .strictObject({
    /** Config file format version. */
    version: z.literal(1).default(1),
    cluster: name('cluster'),
    host: z.strictObject({
      name: name('host.name'),
      /** The address this host's broker serves on and peers reach it at. */
      address,
      port: z.number().int().min(1).max(65535).default(1883),
      /** Higher wins the rendezvous (and, later, the CCP placement). */
      priority: z.number().int().min(-1000).max(1000).default(0),
    }),
    seeds: z.array(seed).max(64).default([]),
    /** This host's TLS material, issued by the cluster CA (docs/security.md): every connection
     * between agents is mutual TLS, and the certificate is the host's identity. */
    tls: z.strictObject({
      /** The cluster CA's certificate (PEM). */
      ca: z.string().min(1),
      /** This host's certificate (PEM), CN = host.name, OU = host. */
      cert: z.string().min(1),
      /** This host's private key (PEM), mode 0600. */
      key: z.string().min(1),
      /** The CA's revocation list (PEM); re-read when it changes. */
      crl: z.string().min(1).optional(),
    }),
    /** The cluster secret, inline (never sent: it seals the replicated configuration and derives
     * the k3s token). Prefer secretFile. */
    secret: z.string().min(16, 'the cluster secret must be at least 16 characters').optional(),
    /** A file (mode 0600) holding the cluster credential. */
    secretFile: z.string().min(1).optional(),
    stateDir: z.string().min(1).default('/var/lib/infravisor'),
    /** The Unix socket `infravisor status` talks to. Default: STATEDIR/agent.sock. */
    statusSocket: z.string().min(1).optional(),
    timings: TimingsSchema.default(TimingsSchema.parse({})),
    link: z
      .strictObject({
        /** The cluster-facing interface to watch. Default: the one that holds host.address. */
        interface: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'must be an interface name (1-15 characters)').optional(),
        /** auto: the native addon when it loads, else ffi. off: no link watching (keepalives only). */
        backend: z.enum(['auto', 'native', 'ffi', 'off']).default('auto'),
        /** A loss shorter than this is a flap and is ignored; a return counts at once. */
        graceMs: z.number().int().min(0).max(60_000).default(500),
      })
      .default({ backend: 'auto', graceMs: 500 }),
    /** This host's k3s paths and how its k3s processes are run. */
    ccp: CcpHostSchema,
    /** The cluster-wide CCP configuration (YAML, see docs/ccp.md). Default: built-in defaults. */
    clusterConfig: z.string().min(1).optional(),
    /** The web view and Prometheus metrics on TCP (docs/observability.md): off by default on a
     * Pi; the Unix socket serves them always. */
    web: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Where it listens (default: host.address). */
        address: address.optional(),
        port: z.number().int().min(1).max(65535).default(8088),
        /** A file (mode 0600) holding the token every request must carry (≥ 16 characters). */
        tokenFile: z.string().min(1).optional(),
      })
      .default({ enabled: false, port: 8088 }),
    /** The board LED shows this host's role (primary: heartbeat, CCP host: on, follower: off, cut off: blinking). */
    led: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** The LED under /sys/class/leds: ACT on most Pis, led0 on older kernels. */
        name: z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/).default('ACT'),
        root: z.string().min(1).default('/sys/class/leds'),
      })
      .default({ enabled: false, name: 'ACT', root: '/sys/class/leds' }),
    hooks: z
      .strictObject({
        /** Run for every event, with the event as JSON on stdin (like keepalived's notify). */
        onEvent: z.strictObject({ command: z.array(z.string().min(1)).min(1).max(64), timeoutMs: ms(100, 600_000, 5000) }).optional(),
      })
      .default({}),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({ level: 'info' }),
  })
  .refine((c) => !c.web.enabled || c.web.tokenFile !== undefined, {
    message: 'web.enabled needs web.tokenFile: a file (mode 0600) with the token browsers and Prometheus present',
    path: ['web', 'tokenFile'],
  })
  .refine((c) => (c.secret === undefined) !== (c.secretFile === undefined), {
    message: 'set exactly one of secret or secretFile (secretFile is preferred: a file of mode 0600)',
    path: ['secretFile'],
  });

export type ConfigInput = z.input<typeof ConfigSchema>;
export type ParsedConfig = z.output<typeof ConfigSchema>;
export type Timings = z.output<typeof TimingsSchema>;

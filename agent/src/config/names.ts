/** A DNS label: what a host or cluster name may be (it is also used in MQTT topics, file names,
 * k3s node names and certificate subjects). */
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

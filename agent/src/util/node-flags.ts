/**
 * V8 flags the agent runs with (lab, systemd unit). Lite mode (no optimising compiler, lazy
 * feedback) takes an agent from ~95 MB to ~66 MB resident for ~0.2 % more idle CPU; the agent
 * is idle almost all the time, and on a 1 GB Pi the memory matters more (docs/benchmarks.md).
 *
 * Lite mode turns WebAssembly off. Node's global fetch() (undici) needs it and crashes the
 * process without it: agent code must use node:http / node:https, never fetch().
 *
 * `INFRAVISOR_NODE_FLAGS` (space-separated, empty for none) replaces them for benchmarks only
 * (bench discovery compares flag sets: docs/benchmarks.md).
 */
export const AGENT_NODE_FLAGS: readonly string[] = process.env.INFRAVISOR_NODE_FLAGS !== undefined ? process.env.INFRAVISOR_NODE_FLAGS.split(' ').filter(Boolean) : ['--lite-mode'];

/**
 * The agent's CPU priority (nice): its systemd unit sets `Nice=-10`, the lab does the same. A
 * heartbeat 1 s late is a dead peer (docs/liveness.md), so the agent must not queue behind a
 * k3s server starting on a busy Pi. What it starts for a unit (the lab's supervisor and, from
 * it, k3s) goes back to 0, as systemd starts each unit at its own priority.
 */
export const AGENT_NICE = -10;

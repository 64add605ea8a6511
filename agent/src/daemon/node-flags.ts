/**
 * V8 flags the agent runs with (lab, systemd unit). Lite mode (no optimising compiler, lazy
 * feedback) takes an agent from ~95 MB to ~66 MB resident for ~0.2 % more idle CPU; the agent
 * is idle almost all the time, and on a 1 GB Pi the memory matters more (docs/benchmarks.md).
 *
 * Lite mode turns WebAssembly off. Node's global fetch() (undici) needs it and crashes the
 * process without it: agent code must use node:http / node:https, never fetch().
 */
export const AGENT_NODE_FLAGS = ['--lite-mode'] as const;

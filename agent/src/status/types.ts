import type { Agent } from '../daemon/agent.js';

/** The status document an agent serves (GET /status). Documented in docs/status.md. */
export type AgentStatus = ReturnType<Agent['snapshot']>;

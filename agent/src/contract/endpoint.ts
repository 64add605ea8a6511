import type { CcpAssignment } from './messages.js';

/** The CCP's API endpoint for an address and port, the one way it is built (IPv6 bracketed). */
export function endpointUrl(address: string, port: number): string {
  return `https://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The address (brackets removed) and port of an endpoint URL. */
export function endpointTarget(endpoint: string): { address: string; port: number } {
  const u = new URL(endpoint);
  return { address: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/** The address an endpoint names, or null when it is not a URL (a member's report is network input). */
export function endpointAddress(endpoint: string): string | null {
  try {
    return endpointTarget(endpoint).address;
  } catch {
    return null;
  }
}

/** What identifies one CCP server: its generation and endpoint (generations of CCPs started on
 * two sides of a partition may coincide; endpoints do not). */
export function assignmentKey(a: Pick<CcpAssignment, 'generation' | 'endpoint'>): string {
  return `${a.generation}@${a.endpoint}`;
}

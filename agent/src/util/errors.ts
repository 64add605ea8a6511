/**
 * Typed errors. Every error the agent reports to a person has a stable `code` and a message
 * that says what to do next. The CLI maps `exitCode` to the process exit status.
 */
export class InfravisorError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** One problem found in a configuration file, located by its path inside the document. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends InfravisorError {
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
    super('CONFIG_INVALID', `${file}: the configuration is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}); fix these and start again:\n${lines}`, 2);
    this.issues = issues;
  }
}

export class CorruptStateError extends InfravisorError {
  readonly file: string;
  constructor(file: string, reason: string, quarantinedTo?: string) {
    const where = quarantinedTo ? ` It was moved aside to ${quarantinedTo} for inspection.` : '';
    super('STATE_CORRUPT', `${file}: ${reason}; the file is not used.${where} The agent rebuilds this state from its peers.`);
    this.file = file;
  }
}

export class LabError extends InfravisorError {
  constructor(message: string, code = 'LAB', exitCode = 1) {
    super(code, message, exitCode);
  }
}

export class UsageError extends InfravisorError {
  constructor(message: string) {
    super('USAGE', message, 2);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

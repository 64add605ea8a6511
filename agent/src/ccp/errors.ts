import { InfravisorError } from '../util/errors.js';

/** A CCP configuration k3s would reject or silently ignore: refused before anything is written. */
export class CcpConfigError extends InfravisorError {
  constructor(readonly key: string, message: string) {
    super('CCP_CONFIG', message, 2);
  }
}

export class CcpStartError extends InfravisorError {
  constructor(message: string, readonly output: string) {
    super('CCP_START', message, 1);
  }
}

import { InfravisorError } from '../util/errors.js';

/**
 * Errors of the runtime migration. Codes: CRI_UNREACHABLE, CRI_CALL, SOURCE (containerd),
 * TARGET (containers-storage, podman), IMAGE_UNSUPPORTED, NO_SPACE, JOURNAL, USAGE,
 * CONTAINER_GONE (a container exited midway), CONTROL_PLANE (step 5).
 */
export class RuntimeError extends InfravisorError {
  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(code, message, options?.exitCode ?? 1, options);
  }
}

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../util/paths.js';
import { RuntimeError } from './errors.js';

/**
 * gRPC over a runtime's Unix socket, shared by the CRI client and the containerd task client:
 * the project's own .proto files (agent/proto/), a deadline on every call, and failures turned
 * into RuntimeError — CRI_UNREACHABLE when nobody answers, CRI_CALL when the runtime refused.
 */
type Unary = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

const loaded = new Map<string, grpc.GrpcObject>();

export function protoPackage(file: string): grpc.GrpcObject {
  let pkg = loaded.get(file);
  if (!pkg) {
    pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(REPO_ROOT, 'agent/proto', file), { keepCase: false, longs: Number, enums: String, defaults: true }));
    loaded.set(file, pkg);
  }
  return pkg;
}

/** The socket path of an endpoint (`unix://` optional); a missing socket is refused with the option that sets it. */
export function socketPath(endpoint: string, option: string, what = { name: 'CRI endpoint', daemon: 'the runtime' }): string {
  const path = endpoint.replace(/^unix:\/\//, '');
  if (!existsSync(path)) throw new RuntimeError('CRI_UNREACHABLE', `${what.name} ${path} does not exist: is ${what.daemon} running? Pass its socket with ${option}.`);
  return path;
}

export function newClient(ctor: unknown, path: string): grpc.Client {
  return new (ctor as grpc.ServiceClientConstructor)(`unix://${path}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
}

export function unary<T>(client: grpc.Client, what: string, method: string, req: object, timeoutMs: number, metadata?: Record<string, string>): Promise<T> {
  const fn = (client as unknown as Record<string, Unary>)[method];
  if (!fn) throw new Error(`unknown gRPC method ${method}`);
  const meta = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata ?? {})) meta.set(k, v);
  return new Promise((resolve, reject) => {
    fn.call(client, req, meta, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) {
        const status = grpc.status[err.code] ?? String(err.code);
        const code = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED ? 'CRI_UNREACHABLE' : 'CRI_CALL';
        reject(new RuntimeError(code, `${what} ${method} failed (${status}): ${err.details || err.message}`, { cause: err }));
      } else resolve(res as T);
    });
  });
}

export { grpc };

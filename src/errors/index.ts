/**
 * One error type per meaning. Each edge maps them once: the management API to
 * google.rpc.Status, the realtime protocol to `error` envelopes, the client edge to close codes.
 */
export type ErrorKind =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'FAILED_PRECONDITION'
  | 'INTERNAL';

export abstract class SwitchboardError extends Error {
  abstract readonly kind: ErrorKind;
  /** The request field at fault, for INVALID_ARGUMENT (google.rpc.BadRequest field violations). */
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.name = new.target.name;
    this.field = field;
  }
}

export class InvalidArgument extends SwitchboardError {
  readonly kind = 'INVALID_ARGUMENT' as const;
}
export class Unauthenticated extends SwitchboardError {
  readonly kind = 'UNAUTHENTICATED' as const;
}
export class PermissionDenied extends SwitchboardError {
  readonly kind = 'PERMISSION_DENIED' as const;
}
export class NotFound extends SwitchboardError {
  readonly kind = 'NOT_FOUND' as const;
}
export class ResourceExhausted extends SwitchboardError {
  readonly kind = 'RESOURCE_EXHAUSTED' as const;
}
/** RESOURCE_EXHAUSTED that passes with time: answered with Retry-After (HTTP) and google.rpc.RetryInfo. */
export class RateLimited extends ResourceExhausted {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}
export class Unavailable extends SwitchboardError {
  readonly kind = 'UNAVAILABLE' as const;
}
export class DeadlineExceeded extends SwitchboardError {
  readonly kind = 'DEADLINE_EXCEEDED' as const;
}
export class FailedPrecondition extends SwitchboardError {
  readonly kind = 'FAILED_PRECONDITION' as const;
}
/**
 * FAILED_PRECONDITION because a configured limit is reached; `field` names the setting
 * (`limits.…`), so the caller learns which knob to raise and the error keeps its meaning when
 * it is rebuilt on another node.
 */
export class LimitExceeded extends FailedPrecondition {
  constructor(message: string, limit: `limits.${string}`) {
    super(message, limit);
  }
}
export class Internal extends SwitchboardError {
  readonly kind = 'INTERNAL' as const;
}

/** google.rpc.Code numbers, shared by every surface that speaks them (HTTP JSON, gRPC). */
export const RPC_CODE: Record<ErrorKind, number> = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

const CONSTRUCTORS: Record<ErrorKind, new (message: string, field?: string) => SwitchboardError> = {
  INVALID_ARGUMENT: InvalidArgument,
  UNAUTHENTICATED: Unauthenticated,
  PERMISSION_DENIED: PermissionDenied,
  NOT_FOUND: NotFound,
  RESOURCE_EXHAUSTED: ResourceExhausted,
  UNAVAILABLE: Unavailable,
  DEADLINE_EXCEEDED: DeadlineExceeded,
  FAILED_PRECONDITION: FailedPrecondition,
  INTERNAL: Internal,
};

/** Rebuilds an error from its kind, e.g. one raised on another node; unknown kinds are INTERNAL. */
export function errorOfKind(kind: string, message: string, field?: string): SwitchboardError {
  if (kind === 'FAILED_PRECONDITION' && field?.startsWith('limits.') === true) return new LimitExceeded(message, field as `limits.${string}`);
  const Constructor = CONSTRUCTORS[kind as ErrorKind] ?? Internal;
  return new Constructor(message, field);
}

export function isSwitchboardError(err: unknown): err is SwitchboardError {
  return err instanceof SwitchboardError;
}

/** Error raised while reading configuration or a gateway spec: names the file and the path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${source}: ${path || '(root)'}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * A configured value that could not be used at start (a port in use, a host not found, a
 * listener that would be open without keys). Its message names the setting as the operator
 * gave it (flag, variable or file key), the problem and the fix.
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * Another live node on the backplane holds this node's id. Two nodes with one id would both
 * take the calls for its connections (each answering NOT_FOUND for the other's), so the
 * second refuses to start: a configuration error (exit code 2 from the CLI).
 */
export class NodeIdInUse extends ConfigError {
  constructor(
    readonly nodeId: string,
    /** Who holds it, as its liveness entry says (listen address, host name, pid). */
    readonly holder: string,
    backplane: string,
  ) {
    super(
      backplane,
      'nodeId',
      `node id "${nodeId}" is held by a live node (${holder}); give this node another --node-id, or stop that node (the id of a node that crashed is free once its liveness lapses)`,
    );
    this.name = 'NodeIdInUse';
  }
}

/**
 * Why a file could not be read, in words: the errno code alone (EISDIR, EACCES) tells a
 * newcomer little. Shared by the settings file, gateway specs, TLS files and the CLI's --file.
 */
export function fileReadProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return code ?? (err instanceof Error ? err.message : String(err));
  }
}

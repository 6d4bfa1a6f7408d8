// What the Node and the browser entry points share: the request-id interceptor,
// the default deadline, and the names of gRPC status codes.
import { Code, type Interceptor } from "@connectrpc/connect";

/** Deadline of a call that sets no `timeoutMs` of its own, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** The metadata key the Recommendations service logs and echoes back. */
export const REQUEST_ID_HEADER = "x-request-id";

/** Options every Recommendations client takes, whatever its transport. */
export interface ClientOptions {
  /** Deadline of each call, in milliseconds, unless the call gives its own `timeoutMs`. */
  timeoutMs?: number;
  /** Makes the `x-request-id` of a call that sets none; by default `crypto.randomUUID()`. */
  requestId?: () => string;
  /** Further interceptors, run after the one that sets the request id. */
  interceptors?: Interceptor[];
}

/** Sets `x-request-id` on every call whose headers lack one. */
export function requestIdInterceptor(makeId: () => string = () => crypto.randomUUID()): Interceptor {
  return (next) => (request) => {
    if (!request.header.has(REQUEST_ID_HEADER)) {
      request.header.set(REQUEST_ID_HEADER, makeId());
    }
    return next(request);
  };
}

/** The transport settings both entry points derive from `ClientOptions`. */
export function transportDefaults(options: ClientOptions): {
  defaultTimeoutMs: number;
  interceptors: Interceptor[];
} {
  return {
    defaultTimeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    interceptors: [requestIdInterceptor(options.requestId), ...(options.interceptors ?? [])],
  };
}

const CODE_NAMES: Record<Code, string> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

/** The gRPC name of a status code, as other gRPC libraries spell it: `Code.NotFound` is `NOT_FOUND`. */
export function grpcCodeName(code: Code): string {
  return CODE_NAMES[code] ?? "UNKNOWN";
}

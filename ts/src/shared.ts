// What the Node and the browser entry points export alike: the contract's
// types, the client's options and helpers, and connect's error types.
import type { Client } from "@connectrpc/connect";
import type { Recommendations } from "./gen/recommendations_pb.js";

export * from "./gen/recommendations_pb.js";
export {
  type ClientOptions,
  DEFAULT_TIMEOUT_MS,
  REQUEST_ID_HEADER,
  grpcCodeName,
  requestIdInterceptor,
} from "./client.js";
export { Code, ConnectError } from "@connectrpc/connect";

/** A client of the Recommendations service; `recommend()` is its one method. */
export type RecommendationsClient = Client<typeof Recommendations>;

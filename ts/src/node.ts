// The Node entry point: gRPC over HTTP/2, or gRPC-Web over HTTP/1.1.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Recommendations } from "./gen/recommendations_pb.js";
import { type ClientOptions, transportDefaults } from "./client.js";
import type { RecommendationsClient } from "./shared.js";

export * from "./shared.js";

/** The wire protocol: `grpc` (HTTP/2, the default) or `grpc-web` (HTTP/1.1). */
export type Protocol = "grpc" | "grpc-web";

/** Options of a Node client. */
export interface NodeClientOptions extends ClientOptions {
  protocol?: Protocol;
}

/**
 * A client of the Recommendations service at `baseUrl`, for example `http://localhost:50051`
 * (an `https://` URL speaks TLS and trusts Node's CA store).
 */
export function createRecommendationsClient(
  baseUrl: string,
  options: NodeClientOptions = {},
): RecommendationsClient {
  const settings = { baseUrl, ...transportDefaults(options) };
  const transport =
    options.protocol === "grpc-web"
      ? createGrpcWebTransport({ ...settings, httpVersion: "1.1" })
      : createGrpcTransport(settings);
  return createClient(Recommendations, transport);
}

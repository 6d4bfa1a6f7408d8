// The browser entry point: gRPC-Web over the page's fetch. It imports nothing
// from Node, so a bundle of it stays small and runs in any browser.
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { Recommendations } from "./gen/recommendations_pb.js";
import { type ClientOptions, transportDefaults } from "./client.js";
import type { RecommendationsClient } from "./shared.js";

export * from "./shared.js";

/** Options of a browser client; gRPC-Web is the only protocol a browser can speak. */
export interface WebClientOptions extends ClientOptions {
  protocol?: "grpc-web";
}

/**
 * A gRPC-Web client of the Recommendations service at `baseUrl`: the page's own origin
 * (`window.location.origin`) when the site forwards gRPC-Web, or a server that allows CORS.
 */
export function createRecommendationsClient(
  baseUrl: string,
  options: WebClientOptions = {},
): RecommendationsClient {
  const transport = createGrpcWebTransport({ baseUrl, ...transportDefaults(options) });
  return createClient(Recommendations, transport);
}

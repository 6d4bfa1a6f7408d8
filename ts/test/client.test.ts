// The package's Node client against the real Rust server, over gRPC and over gRPC-Web.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  BookCategory,
  Code,
  ConnectError,
  createRecommendationsClient,
  grpcCodeName,
  type Protocol,
  REQUEST_ID_HEADER,
} from "../src/node.js";
import { booksOf } from "./catalog.js";
import { type Running, startRecommendations } from "./processes.js";

/** The ConnectError a promise is rejected with. */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the call succeeded");
}

/** A TCP server that accepts connections and never answers: every call to it runs into its deadline. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let server: Running;
before(async () => {
  server = await startRecommendations();
});
after(async () => {
  await server.stop();
});

for (const protocol of ["grpc", "grpc-web"] satisfies Protocol[]) {
  describe(`over ${protocol}`, () => {
    const client = () => createRecommendationsClient(server.url, { protocol });

    test("recommends distinct books of the category asked for", async () => {
      const reply = await client().recommend({ userId: 1, category: BookCategory.MYSTERY, maxResults: 3 });
      const mystery = booksOf(BookCategory.MYSTERY);
      assert.equal(reply.recommendations.length, 3);
      assert.equal(new Set(reply.recommendations.map((book) => book.id)).size, 3);
      for (const book of reply.recommendations) {
        assert.equal(book.title, mystery.get(book.id), `book ${book.id} is not a mystery`);
      }
    });

    test("gives the same books as the other protocol, in the same order", async () => {
      const request = { userId: 42, category: BookCategory.SELF_HELP, maxResults: 2 };
      const other = protocol === "grpc" ? "grpc-web" : "grpc";
      const here = await client().recommend(request);
      const there = await createRecommendationsClient(server.url, { protocol: other }).recommend(request);
      assert.deepEqual(
        here.recommendations.map((book) => [book.id, book.title]),
        there.recommendations.map((book) => [book.id, book.title]),
      );
    });

    test("an unknown category is NOT_FOUND with the notes' message", async () => {
      const error = await failure(client().recommend({ userId: 1, category: 7 as BookCategory, maxResults: 3 }));
      assert.equal(grpcCodeName(error.code), "NOT_FOUND");
      assert.equal(error.rawMessage, "Category not found");
    });

    test("a negative max_results is INVALID_ARGUMENT", async () => {
      const error = await failure(client().recommend({ userId: 1, category: BookCategory.MYSTERY, maxResults: -1 }));
      assert.equal(error.code, Code.InvalidArgument);
      assert.equal(error.rawMessage, "max_results must be zero or more, got -1");
    });

    test("sends a new request id with each call, or the one given", async () => {
      const echoed: (string | null)[] = [];
      const onHeader = (headers: Headers) => echoed.push(headers.get(REQUEST_ID_HEADER));
      const request = { userId: 1, maxResults: 1 };
      await client().recommend(request, { onHeader });
      await client().recommend(request, { onHeader });
      await client().recommend(request, { onHeader, headers: { [REQUEST_ID_HEADER]: "given-id-1" } });
      const [first, second, given] = echoed;
      assert.match(first ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.notEqual(first, second);
      assert.equal(given, "given-id-1");
    });

    test("a call that gets no answer ends at the client's default deadline", async () => {
      const silent = await silentServer();
      try {
        const started = performance.now();
        const slow = createRecommendationsClient(silent.url, { protocol, timeoutMs: 300 });
        const error = await failure(slow.recommend({ userId: 1, maxResults: 1 }));
        assert.equal(grpcCodeName(error.code), "DEADLINE_EXCEEDED");
        assert.ok(performance.now() - started < 5_000);
        // A call's own deadline wins over the client's.
        const own = await failure(slow.recommend({ userId: 1, maxResults: 1 }, { timeoutMs: 100 }));
        assert.equal(own.code, Code.DeadlineExceeded);
      } finally {
        await silent.close();
      }
    });

    test("a server that is not there is UNAVAILABLE", async () => {
      const silent = await silentServer();
      const url = silent.url;
      await silent.close();
      const error = await failure(createRecommendationsClient(url, { protocol }).recommend({ userId: 1 }));
      assert.equal(grpcCodeName(error.code), "UNAVAILABLE");
    });
  });
}

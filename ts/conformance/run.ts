// The conformance runner of the TypeScript clients: runs every case of
// proto/cases against a target and prints what happened as one JSON document.
//
//   tsx ts/conformance/run.ts --client ts-grpc|ts-grpc-web|browser --cases DIR --target URL
//
// ts-grpc and ts-grpc-web call the Recommendations server at URL; browser opens
// the /live page of the marketplace at URL in headless Chromium for each case.
// It only reports; the checker judges. It exits non-zero only when it cannot run
// at all: a target that does not answer is UNAVAILABLE, case by case.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Browser } from "playwright-core";
import { type BookCategory, ConnectError, createRecommendationsClient, grpcCodeName } from "../src/node.js";
import { launchChromium, type LiveRequest, liveUrl, outcome } from "./live-page.js";

const CLIENTS = ["ts-grpc", "ts-grpc-web", "browser"] as const;
type ClientName = (typeof CLIENTS)[number];
const DEADLINE_MS = 10_000;

interface Case {
  name: string;
  request: LiveRequest;
}

interface Result {
  file: string;
  case: string;
  status: string;
  message: string;
  books: { id: number; title: string }[];
}

/** Every case of every `*.json` in `dir`, by file name. */
async function loadCases(dir: string): Promise<{ file: string; cases: Case[] }[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(".json")).sort();
  return await Promise.all(
    names.map(async (name) => {
      const table = JSON.parse(await readFile(path.join(dir, name), "utf8")) as { cases: Case[] };
      return { file: path.basename(name, ".json"), cases: table.cases };
    }),
  );
}

/** A function that runs one case with a client of this kind, and what to close afterwards. */
async function caller(
  client: ClientName,
  target: string,
): Promise<{ run: (request: LiveRequest) => Promise<Omit<Result, "file" | "case">>; close: () => Promise<void> }> {
  if (client === "browser") {
    const browser: Browser = await launchChromium();
    const context = await browser.newContext();
    const page = await context.newPage();
    return {
      run: async (request) => {
        let served: string | null;
        try {
          const response = await page.goto(liveUrl(target, request), { timeout: DEADLINE_MS });
          served = response?.ok() === false ? `${target} answered /live with HTTP ${response.status()}` : null;
        } catch (error) {
          served = error instanceof Error ? error.message.split("\n")[0] ?? "" : String(error);
        }
        if (served !== null) {
          // No page, so no call: the marketplace is not there to ask.
          return { status: "UNAVAILABLE", message: served, books: [] };
        }
        try {
          const shown = await outcome(page, DEADLINE_MS + 5_000);
          return { status: shown.status, message: shown.message, books: shown.books };
        } catch (error) {
          // The page never finished its call: its script did not run, or hung.
          const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
          return { status: "UNKNOWN", message: `the page did not finish: ${reason}`, books: [] };
        }
      },
      close: () => browser.close(),
    };
  }
  const recommendations = createRecommendationsClient(target, {
    protocol: client === "ts-grpc" ? "grpc" : "grpc-web",
    timeoutMs: DEADLINE_MS,
  });
  return {
    run: async (request) => {
      try {
        const reply = await recommendations.recommend({
          userId: request.user_id,
          category: request.category as BookCategory,
          maxResults: request.max_results,
        });
        return {
          status: "OK",
          message: "",
          books: reply.recommendations.map((book) => ({ id: book.id, title: book.title })),
        };
      } catch (error) {
        const failure = ConnectError.from(error);
        return { status: grpcCodeName(failure.code), message: failure.rawMessage, books: [] };
      }
    },
    close: async () => {},
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { client: { type: "string" }, cases: { type: "string" }, target: { type: "string" } },
    strict: true,
  });
  const client = CLIENTS.find((name) => name === values.client);
  if (client === undefined || values.cases === undefined || values.target === undefined) {
    throw new Error(`usage: run.ts --client ${CLIENTS.join("|")} --cases DIR --target URL`);
  }
  const tables = await loadCases(values.cases);
  const { run, close } = await caller(client, values.target);
  const results: Result[] = [];
  try {
    for (const { file, cases } of tables) {
      for (const one of cases) {
        results.push({ file, case: one.name, ...(await run(one.request)) });
      }
    }
  } finally {
    await close();
  }
  process.stdout.write(`${JSON.stringify({ client, results })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});

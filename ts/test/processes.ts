// Starts the project's real binaries on port 0 and waits until they serve;
// nothing here sleeps for a fixed time.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRecommendationsClient } from "../src/node.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const RECOMMENDATIONS_BIN =
  process.env["RECOMMENDATIONS_BIN"] ?? path.join(REPO, "target/debug/recommendations");
export const MARKETPLACE_BIN =
  process.env["MARKETPLACE_BIN"] ?? path.join(REPO, "target/debug/marketplace");
const START_TIMEOUT_MS = 30_000;
// TEST_LOG=1: the children's log lines go to stderr too, as `[name] line`.
const TEST_LOG = !["", "0"].includes(process.env["TEST_LOG"] ?? "");

/** A started child process: the address it logged, and its log so far. */
export class Running {
  readonly log: string[] = [];

  constructor(
    readonly process: ChildProcess,
    public address = "",
  ) {}

  /** `http://ADDRESS`, the base URL of a client. */
  get url(): string {
    return `http://${this.address}`;
  }

  /** Sends `signal` and waits for the exit (killing the process if it hangs). */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, "exit");
    this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill("SIGKILL"), START_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts `argv`; resolves once a log line matches `ready`, whose first group is the bound address. */
export async function startProcess(argv: string[], ready: RegExp): Promise<Running> {
  const [program, ...args] = argv;
  if (program === undefined) throw new Error("no program to start");
  const name = path.basename(program);
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
  const running = new Running(child);
  return await new Promise<Running>((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} logged no line matching ${ready} in ${START_TIMEOUT_MS} ms; its log:\n${running.log.join("\n")}`));
    }, START_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        running.log.push(line);
        if (TEST_LOG) process.stderr.write(`[${name}] ${line}\n`);
        const match = started ? null : ready.exec(line);
        if (match?.[1] !== undefined) {
          started = true;
          clearTimeout(timer);
          running.address = match[1];
          resolve(running);
        }
      });
    }
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${program}: ${error.message} (run \`just build\` first)`));
    });
    child.on("exit", (code, signal) => {
      if (started) return;
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready; its log:\n${running.log.join("\n")}`));
    });
  });
}

/**
 * Starts the Rust Recommendations server on 127.0.0.1 (port 0 unless given) and
 * waits until it answers a call.
 */
export async function startRecommendations(port = 0, ...args: string[]): Promise<Running> {
  const server = await startProcess(
    [RECOMMENDATIONS_BIN, "--listen", `127.0.0.1:${port}`, ...args],
    /listening addr=(\S+)/,
  );
  try {
    const client = createRecommendationsClient(server.url, { timeoutMs: START_TIMEOUT_MS });
    await client.recommend({ userId: 1, maxResults: 0 });
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** Starts the axum marketplace on 127.0.0.1, calling the Recommendations service at `recommendationsUrl`. */
export async function startMarketplace(recommendationsUrl: string): Promise<Running> {
  return await startProcess(
    [MARKETPLACE_BIN, "--listen", "127.0.0.1:0", "--recommendations-url", recommendationsUrl],
    /listening addr=(\S+)/,
  );
}

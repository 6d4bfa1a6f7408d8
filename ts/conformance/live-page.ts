// Drives the marketplace's /live page in headless Chromium (Debian's, through
// playwright-core) and reads what it shows, as its DOM contract spells it.
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env["CHROMIUM"] ?? "/usr/bin/chromium";
// Nothing in the background that could reach the network or slow a start.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A headless Chromium with a fresh, throw-away profile (playwright makes one per launch). */
export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/** The numbers of a request, as the page's URL takes them. */
export interface LiveRequest {
  user_id: number;
  category: number;
  max_results: number;
}

/** What the page shows once a call has finished. */
export interface LiveOutcome {
  state: "done" | "error";
  /** The gRPC code name: OK, or #error's data-code. */
  status: string;
  /** The service's own message (#error's data-message), '' when OK. */
  message: string;
  /** #error's sentence for the reader, '' when OK. */
  sentence: string;
  books: { id: number; title: string }[];
}

/** The /live URL that asks `request` at once. */
export function liveUrl(marketplace: string, request: LiveRequest): string {
  const url = new URL("/live", marketplace);
  url.searchParams.set("user_id", String(request.user_id));
  url.searchParams.set("category", String(request.category));
  url.searchParams.set("max_results", String(request.max_results));
  return url.toString();
}

/** Waits until the call the page runs has finished, then reads the page. */
export async function outcome(page: Page, timeoutMs = 15_000): Promise<LiveOutcome> {
  const form = page.locator('#ask[data-state="done"], #ask[data-state="error"]');
  await form.waitFor({ timeout: timeoutMs });
  const state = (await form.getAttribute("data-state")) === "done" ? "done" : "error";
  const books = [];
  for (const item of await page.locator("#books li").all()) {
    books.push({ id: Number(await item.getAttribute("data-book-id")), title: (await item.textContent()) ?? "" });
  }
  if (state === "done") return { state, status: "OK", message: "", sentence: "", books };
  const error = page.locator("#error");
  return {
    state,
    status: (await error.getAttribute("data-code")) ?? "",
    message: (await error.getAttribute("data-message")) ?? "",
    sentence: ((await error.textContent()) ?? "").trim(),
    books,
  };
}

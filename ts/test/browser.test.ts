// The marketplace's /live page in headless Chromium: the bundled script asks the
// Recommendations service over gRPC-Web through the marketplace, which forwards
// the call to the real Rust server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium, liveUrl, outcome } from "../conformance/live-page.js";
import { BookCategory, createRecommendationsClient } from "../src/node.js";
import { type Running, startMarketplace, startRecommendations } from "./processes.js";

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser.close();
});

/** A page of its own for one test, closed by `after`. */
async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  after(() => context.close());
  return await context.newPage();
}

describe("the /live page", () => {
  let server: Running;
  let marketplace: Running;
  before(async () => {
    server = await startRecommendations();
    marketplace = await startMarketplace(server.url);
  });
  after(async () => {
    await marketplace.stop();
    await server.stop();
  });

  test("shows the books the service picks when the form is sent", async () => {
    const page = await newPage();
    await page.goto(new URL("/live", marketplace.url).toString());
    await page.locator('#ask input[name="user_id"]').fill("7");
    await page.locator('#ask select[name="category"]').selectOption(String(BookCategory.SCIENCE_FICTION));
    await page.locator('#ask input[name="max_results"]').fill("2");
    await page.locator('#ask [type="submit"]').click();

    const shown = await outcome(page);
    assert.equal(shown.state, "done");
    const reply = await createRecommendationsClient(server.url).recommend({
      userId: 7,
      category: BookCategory.SCIENCE_FICTION,
      maxResults: 2,
    });
    assert.deepEqual(
      shown.books,
      reply.recommendations.map((book) => ({ id: book.id, title: book.title })),
    );
    assert.equal(shown.books.length, 2);
    assert.equal(await page.locator("#error").isVisible(), false);
    // The address bar now holds a link that asks the same again.
    const url = new URL(page.url());
    assert.deepEqual(
      [url.searchParams.get("user_id"), url.searchParams.get("category"), url.searchParams.get("max_results")],
      ["7", "1", "2"],
    );
  });

  test("an unknown category shows the service's message, and a good request clears it", async () => {
    const page = await newPage();
    await page.goto(liveUrl(marketplace.url, { user_id: 1, category: 7, max_results: 3 }));

    const failed = await outcome(page);
    assert.equal(failed.state, "error");
    assert.equal(failed.status, "NOT_FOUND");
    assert.equal(failed.message, "Category not found");
    assert.match(failed.sentence, /Category not found/);
    assert.equal(await page.locator("#error").isVisible(), true);
    assert.deepEqual(failed.books, []);

    await page.locator('#ask select[name="category"]').selectOption(String(BookCategory.MYSTERY));
    await page.locator('#ask [type="submit"]').click();
    const answered = await outcome(page);
    assert.equal(answered.state, "done");
    assert.equal(answered.books.length, 3);
    assert.equal(await page.locator("#error").isVisible(), false);
  });

  test("a negative max_results shows why the service refused it", async () => {
    const page = await newPage();
    await page.goto(liveUrl(marketplace.url, { user_id: 1, category: 0, max_results: -1 }));

    const shown = await outcome(page);
    assert.equal(shown.status, "INVALID_ARGUMENT");
    assert.match(shown.sentence, /max_results must be zero or more, got -1/);
  });

  test("a value the contract cannot carry is refused by the page itself", async () => {
    const page = await newPage();
    await page.goto(new URL("/live?user_id=4294967296&category=0&max_results=3", marketplace.url).toString());

    const shown = await outcome(page);
    assert.equal(shown.status, "INVALID_ARGUMENT");
    assert.match(shown.sentence, /^Nothing was asked: user_id must be a whole number .*"4294967296"/);
  });
});

test("the /live page says the service is unavailable when it is down", async () => {
  const server = await startRecommendations();
  const marketplace = await startMarketplace(server.url);
  try {
    await server.stop();
    const page = await newPage();
    await page.goto(liveUrl(marketplace.url, { user_id: 1, category: 0, max_results: 3 }));

    const shown = await outcome(page);
    assert.equal(shown.status, "UNAVAILABLE");
    assert.match(shown.sentence, /unavailable/);
    assert.equal(await page.locator("#error").isVisible(), true);
  } finally {
    await marketplace.stop();
    await server.stop();
  }
});

// The script of the marketplace's /live page: asks the Recommendations service
// from the browser, over gRPC-Web to the page's own origin, which forwards the
// call. No framework; the page's markup is the marketplace's template.
//
// The DOM it relies on: form#ask (inputs user_id, max_results, select category),
// ol#books, p#error. It reports progress in #ask[data-state] (idle, loading,
// done, error), each book as <li data-book-id="ID">TITLE</li>, and a failure as
// #error[data-code] (the gRPC code name) with a readable sentence, the server's
// own message also in #error[data-message].
import {
  BookCategory,
  Code,
  ConnectError,
  createRecommendationsClient,
  grpcCodeName,
  type RecommendationRequest,
} from "../src/web.js";

/** The numbers a request is made of, as the form or the URL gives them. */
type Ask = Pick<RecommendationRequest, "userId" | "category" | "maxResults">;

const FIELDS = ["user_id", "category", "max_results"] as const;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

const client = createRecommendationsClient(window.location.origin, { timeoutMs: 10_000 });

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

const form = element("ask", HTMLFormElement);
const books = element("books", HTMLOListElement);
const errorLine = element("error", HTMLParagraphElement);

/** A value the page cannot even send: the contract's fields are int32s. */
class InputError extends Error {}

/** A field's value as an int32: an empty field is 0, as proto3 sends an unset number. */
function int32(name: string, value: string): number {
  const number = value.trim() === "" ? 0 : Number(value);
  if (!Number.isInteger(number) || number < INT32_MIN || number > INT32_MAX) {
    throw new InputError(`${name} must be a whole number from ${INT32_MIN} to ${INT32_MAX}, got "${value}"`);
  }
  return number;
}

/** The request that the form's or the URL's values spell (`get` reads one of FIELDS). */
function parse(get: (name: (typeof FIELDS)[number]) => string): Ask {
  return {
    userId: int32("user_id", get("user_id")),
    category: int32("category", get("category")) as BookCategory,
    maxResults: int32("max_results", get("max_results")),
  };
}

/** A sentence for the reader that keeps the service's own words. */
function sentence(code: Code, message: string): string {
  const detail = message.replace(/[.\s]+$/, "");
  switch (code) {
    case Code.Unavailable:
      return `The recommendations service is unavailable right now; please try again in a moment.${detail ? ` (${detail})` : ""}`;
    case Code.DeadlineExceeded:
      return `The recommendations service took too long to answer; please try again.${detail ? ` (${detail})` : ""}`;
    case Code.NotFound:
    case Code.InvalidArgument:
      return `The service could not answer that request: ${detail}.`;
    default:
      return `Something went wrong asking for recommendations (${grpcCodeName(code)}: ${detail || "no details"}).`;
  }
}

function showError(error: unknown): void {
  // ConnectError's instanceof accepts any error of its shape: test for the page's own first.
  const local = error instanceof InputError;
  const failure = local ? new ConnectError(error.message, Code.InvalidArgument) : ConnectError.from(error);
  errorLine.dataset["code"] = grpcCodeName(failure.code);
  errorLine.dataset["message"] = failure.rawMessage;
  errorLine.textContent = local ? `Nothing was asked: ${failure.rawMessage}.` : sentence(failure.code, failure.rawMessage);
  errorLine.hidden = false;
  form.dataset["state"] = "error";
}

/** Fills the form with a request, adding a category the select does not offer. */
function fill(ask: Ask): void {
  const controls = form.elements;
  const set = (name: string, value: number) => {
    const control = controls.namedItem(name);
    if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement) {
      control.value = String(value);
    }
  };
  const select = controls.namedItem("category");
  if (select instanceof HTMLSelectElement && ![...select.options].some((o) => o.value === String(ask.category))) {
    select.add(new Option(BookCategory[ask.category] ?? `category ${ask.category}`, String(ask.category)));
  }
  set("user_id", ask.userId);
  set("category", ask.category);
  set("max_results", ask.maxResults);
}

let calls = 0;

/** Asks the service and shows the answer; a later call supersedes one still running. */
async function ask(request: Ask): Promise<void> {
  const call = ++calls;
  form.dataset["state"] = "loading";
  books.replaceChildren();
  errorLine.hidden = true;
  errorLine.textContent = "";
  delete errorLine.dataset["code"];
  delete errorLine.dataset["message"];
  try {
    const reply = await client.recommend(request);
    if (call !== calls) return;
    books.replaceChildren(
      ...reply.recommendations.map((book) => {
        const item = document.createElement("li");
        item.dataset["bookId"] = String(book.id);
        item.textContent = book.title;
        return item;
      }),
    );
    form.dataset["state"] = "done";
  } catch (error) {
    if (call === calls) showError(error);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(form);
  let request: Ask;
  try {
    request = parse((name) => String(data.get(name) ?? ""));
  } catch (error) {
    books.replaceChildren();
    showError(error);
    return;
  }
  // The URL now asks the same again: a link to share, a page to reload.
  const url = new URL(window.location.href);
  url.searchParams.set("user_id", String(request.userId));
  url.searchParams.set("category", String(request.category));
  url.searchParams.set("max_results", String(request.maxResults));
  window.history.replaceState(null, "", url);
  void ask(request);
});

// A link such as /live?user_id=1&category=0&max_results=3 asks at once.
const query = new URLSearchParams(window.location.search);
if (FIELDS.every((name) => query.has(name))) {
  try {
    const request = parse((name) => query.get(name) ?? "");
    fill(request);
    void ask(request);
  } catch (error) {
    showError(error);
  }
}

// The notes' catalogue, as the Rust server serves it by default.
import { readFileSync } from "node:fs";
import path from "node:path";
import { BookCategory } from "../src/node.js";
import { REPO } from "./processes.js";

interface CatalogBook {
  id: number;
  category: keyof typeof BookCategory;
  title: string;
}

const catalog = JSON.parse(
  readFileSync(path.join(REPO, "rust/recommender/catalog/notes.json"), "utf8"),
) as { books: CatalogBook[] };

/** Each category's books, as `id -> title`. */
export function booksOf(category: BookCategory): Map<number, string> {
  return new Map(
    catalog.books.filter((book) => BookCategory[book.category] === category).map((book) => [book.id, book.title]),
  );
}

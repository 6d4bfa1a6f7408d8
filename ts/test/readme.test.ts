// The READMEs' TypeScript example (examples/readme.ts, which both READMEs show
// word for word), run as a program of its own that installed the package
// (ts/dist, built first) as a dependency; only the server's address differs.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { BookCategory } from "../src/node.js";
import { booksOf } from "./catalog.js";
import { REPO, type Running, startRecommendations } from "./processes.js";

const PACKAGE = path.join(REPO, "ts");
const README_URL = "http://localhost:50051";

let server: Running;
let project: string;
before(async () => {
  server = await startRecommendations();
  project = await mkdtemp(path.join(tmpdir(), "readme-example-"));
});
after(async () => {
  await server.stop();
  await rm(project, { recursive: true, force: true });
});

test("the README's TypeScript example prints three mystery books", async () => {
  const example = await readFile(path.join(PACKAGE, "examples/readme.ts"), "utf8");
  assert.equal(example.split(README_URL).length, 2, `the example names ${README_URL} once`);
  assert.equal(example.trimEnd().split("\n").length, 5, "the example is five lines");
  for (const readme of [path.join(REPO, "README.md"), path.join(PACKAGE, "README.md")]) {
    const text = await readFile(readme, "utf8");
    assert.ok(text.includes(example), `${path.relative(REPO, readme)} shows ts/examples/readme.ts word for word`);
  }
  await mkdir(path.join(project, "node_modules"));
  await symlink(PACKAGE, path.join(project, "node_modules/bookstore-recommendations"));
  await writeFile(path.join(project, "package.json"), JSON.stringify({ type: "module" }));
  const program = path.join(project, "example.ts");
  await writeFile(program, example.replace(README_URL, server.url));

  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", program], {
    cwd: PACKAGE,
    timeout: 30_000,
  });

  const mystery = booksOf(BookCategory.MYSTERY);
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const [, id, title] = /^(\d+) (.+)$/.exec(line) ?? [];
    assert.equal(title, mystery.get(Number(id)), `not a mystery book: ${line}`);
  }
});

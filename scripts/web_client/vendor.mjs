// Copy the browser builds of the pinned libraries into a vendor directory, as ES modules
// that import each other by relative path (browsers do not resolve bare "preact"
// specifiers without an import map, and an inline import map would need a CSP hash).
// Called by scripts/vendor_web_client.sh:  node vendor.mjs <node_modules> <out dir>
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [modules, out] = process.argv.slice(2);
if (!modules || !out) throw new Error("usage: node vendor.mjs <node_modules> <out dir>");

const version = (pkg) => JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
const graphqlWsClient = readFileSync(join(modules, "graphql-ws/dist/client.js"), "utf8");
const commonChunk = /from '\.\/(common-[\w-]+\.js)'/.exec(graphqlWsClient)[1];

// [package, file in the package, vendored name, [[search, replacement], ...]]
const FILES = [
  ["preact", "dist/preact.mjs", "preact.js", []],
  ["preact", "hooks/dist/hooks.mjs", "preact-hooks.js", [['from"preact"', 'from"./preact.js"']]],
  ["htm", "dist/htm.mjs", "htm.js", []],
  ["graphql-ws", "dist/client.js", "graphql-ws.js", [[`./${commonChunk}`, "./graphql-ws-common.js"]]],
  ["graphql-ws", `dist/${commonChunk}`, "graphql-ws-common.js", []],
  ["tus-js-client", "dist/tus.min.js", "tus.js", [], "umd"],
];

// tus-js-client ships its browser build as one self-contained UMD bundle (no ES module
// build without bare imports of its dependencies). Run as a module, it sees `module` and
// `exports` defined here and puts its API there; nothing is added to `window`.
const UMD_BEFORE = "const module = { exports: {} };\nconst exports = module.exports;\n";
const UMD_AFTER = "\nconst tus = module.exports;\nexport default tus;\nexport const { Upload, isSupported, defaultOptions } = tus;\n";

mkdirSync(join(out, "LICENSES"), { recursive: true });
const sums = [];
const table = [];
for (const [pkg, file, name, replacements, format] of FILES) {
  let text = readFileSync(join(modules, pkg, file), "utf8");
  for (const [search, replacement] of replacements) {
    if (!text.includes(search)) throw new Error(`${pkg}/${file}: expected to find ${search}`);
    text = text.split(search).join(replacement);
  }
  // The source maps are not vendored: drop the comment that would make DevTools fetch them.
  text = text.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
  if (format === "umd") text = UMD_BEFORE + text.trimEnd() + UMD_AFTER;
  // Import/export statements only (minified: `from"x"`; readable: `} from 'x';` at a line start).
  const statements = /(?:^|[;}])\s*(?:import|export)\b[^;'"]*?(?:from)?\s*["']([^"']+)["']/gm;
  const specifiers = [...text.matchAll(statements)].map((m) => m[1]);
  const bare = specifiers.filter((s) => !s.startsWith("./"));
  if (bare.length) throw new Error(`${name} still imports ${bare.join(", ")}`);
  writeFileSync(join(out, name), text);
  sums.push(`  ${createHash("sha256").update(text).digest("hex")}  ${name}`);
  table.push(`${pkg.padEnd(13)} ${version(pkg).padEnd(8)} ${file.padEnd(24)} ${name}`);
}
for (const pkg of ["preact", "htm", "graphql-ws", "tus-js-client"]) {
  const license = readdirSync(join(modules, pkg)).find((f) => /^licen[sc]e/i.test(f));
  writeFileSync(join(out, "LICENSES", `${pkg}.LICENSE.txt`), readFileSync(join(modules, pkg, license)));
}

writeFileSync(
  join(out, "VERSIONS.txt"),
  `Vendored libraries of the web client (written by scripts/vendor_web_client.sh; do not edit)
=========================================================================================

Pinned by scripts/web_client/package-lock.json; all MIT (see LICENSES/). Each file is the
package's own ES-module build; the only changes: imports between them are rewritten to
relative paths, and the sourceMappingURL comment is removed. tus-js-client has no such
build: its browser bundle (UMD) is wrapped in a few lines that make it an ES module.

package       version  file in package          vendored as
${table.join("\n")}

SHA-256 of the vendored files:
${sums.join("\n")}
`,
);

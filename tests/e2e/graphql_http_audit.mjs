// Runs the graphql-http server audit suite (GraphQL-over-HTTP spec conformance, MUST,
// SHOULD and MAY audits alike) against a live endpoint and prints a JSON report.
//
//   node tests/e2e/graphql_http_audit.mjs http://127.0.0.1:9080/graphql [--deps-dir DIR]
//
// graphql-http is resolved from DIR (default $PRIVCHAT_NODE_DEPS_DIR, else
// <repo>/.cache/node), where scripts/install_node_test_deps.sh installs it.
// Exit status: 0 when every audit is ok, 1 when any is not, 2 when it cannot run.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

function parseArgs(argv) {
  const args = { url: null, depsDir: process.env.PRIVCHAT_NODE_DEPS_DIR || path.join(REPO_ROOT, ".cache", "node") };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--deps-dir") args.depsDir = argv[++i];
    else if (!args.url) args.url = argv[i];
    else throw new Error(`unexpected argument ${argv[i]}`);
  }
  if (!args.url) throw new Error("usage: graphql_http_audit.mjs URL [--deps-dir DIR]");
  args.depsDir = path.resolve(REPO_ROOT, args.depsDir);
  return args;
}

async function loadServerAudits(depsDir) {
  // Resolve as if from a module inside depsDir, so nothing is looked up in the repo.
  const require = createRequire(path.join(depsDir, "package.json"));
  const entry = require.resolve("graphql-http");
  const mod = await import(pathToFileURL(entry).href);
  const serverAudits = mod.serverAudits ?? mod.default?.serverAudits;
  if (typeof serverAudits !== "function") throw new Error(`no serverAudits export in ${entry}`);
  const version = require("graphql-http/package.json").version;
  return { serverAudits, version };
}

async function describeResponse(response) {
  if (!response) return undefined;
  let body;
  try {
    body = (await response.clone().text()).slice(0, 500);
  } catch {
    body = "(body already read by the audit)";
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}

async function main() {
  let args;
  let suite;
  try {
    args = parseArgs(process.argv.slice(2));
    suite = await loadServerAudits(args.depsDir);
  } catch (err) {
    console.error(`graphql_http_audit: ${err.message}`);
    process.exit(2);
  }
  const results = [];
  // One after the other: a failing audit then shows up in the server log in order.
  for (const audit of suite.serverAudits({ url: args.url })) {
    let result;
    try {
      result = await audit.fn();
    } catch (err) {
      // Anything but an assertion failure (connection refused, bad JSON...) is fatal for the audit.
      result = { id: audit.id, name: audit.name, status: "error", reason: `fatal: ${err?.message ?? err}` };
    }
    results.push({
      id: result.id,
      name: result.name,
      status: result.status,
      ...(result.status === "ok" ? {} : { reason: result.reason, response: await describeResponse(result.response) }),
    });
  }
  const failed = results.filter((r) => r.status !== "ok");
  const report = {
    url: args.url,
    graphqlHttpVersion: suite.version,
    total: results.length,
    ok: results.length - failed.length,
    failed: failed.length,
    results,
  };
  console.log(JSON.stringify(report, null, 2));
  process.exit(failed.length === 0 ? 0 : 1);
}

await main();

#!/usr/bin/env node
// Headless-Chromium check that the self-hosted GraphiQL page renders and loads
// nothing from any host other than the server under test.
//
// Driven by tests/e2e/test_graphiql_offline.py; can also be run by hand:
//
//   PRIVCHAT_PLAYWRIGHT_DIR=.cache/playwright node tests/e2e/graphiql_check.js \
//       --url http://127.0.0.1:8000/graphql [--chromium /usr/bin/chromium] \
//       [--screenshot /tmp/graphiql.png] [--timeout-ms 60000]
//
// Needs playwright-core (npm install --prefix "$PRIVCHAT_PLAYWRIGHT_DIR" playwright-core@1)
// and a system Chromium; no browser is downloaded.
//
// Prints exactly one JSON object on stdout:
//   { ok, rendered, editorRendered, title, requests: [{url, method, resourceType}],
//     webSockets: [url], failedRequests, httpErrors, consoleErrors, pageErrors,
//     cspViolations, blockedExternal, error }
// Requests to any host other than the page's own host are aborted (and recorded in
// both `requests` and `blockedExternal`), so the check never leaks traffic off the
// machine. Exit code: 0 when the script ran (whatever it found), 2 on usage or
// setup errors. The Python test makes the assertions.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");

function parseArgs(argv) {
  const args = {
    url: null,
    chromium: process.env.PRIVCHAT_CHROMIUM || "/usr/bin/chromium",
    screenshot: null,
    timeoutMs: 60000,
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === "--url") args.url = value;
    else if (key === "--chromium") args.chromium = value;
    else if (key === "--screenshot") args.screenshot = value;
    else if (key === "--timeout-ms") args.timeoutMs = Number(value);
    else {
      throw new Error(`unknown argument ${key}`);
    }
    i++;
  }
  if (!args.url) throw new Error("--url is required");
  return args;
}

function loadPlaywright() {
  const dirs = [];
  if (process.env.PRIVCHAT_PLAYWRIGHT_DIR) dirs.push(process.env.PRIVCHAT_PLAYWRIGHT_DIR);
  dirs.push(path.resolve(__dirname, "..", "..", ".cache", "playwright"));
  for (const dir of dirs) {
    const candidate = path.resolve(dir, "node_modules", "playwright-core");
    if (fs.existsSync(candidate)) return require(candidate);
  }
  return require("playwright-core"); // e.g. via NODE_PATH; throws if absent
}

async function main() {
  let args;
  let playwright;
  try {
    args = parseArgs(process.argv.slice(2));
    playwright = loadPlaywright();
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: `setup: ${err.message}` }) + "\n");
    process.exit(2);
  }

  const pageHost = new URL(args.url).host;
  const result = {
    ok: false,
    url: args.url,
    rendered: false,
    editorRendered: false,
    title: null,
    requests: [],
    webSockets: [],
    failedRequests: [],
    httpErrors: [],
    consoleErrors: [],
    pageErrors: [],
    cspViolations: [],
    blockedExternal: [],
    error: null,
  };

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "privchat-graphiql-chromium-"));
  let context = null;
  try {
    context = await playwright.chromium.launchPersistentContext(userDataDir, {
      executablePath: args.chromium,
      headless: true,
      viewport: { width: 1280, height: 800 },
      timeout: args.timeoutMs,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
      ],
    });

    // Abort anything that would leave the server under test (recorded below).
    await context.route("**/*", (route) => {
      const url = route.request().url();
      let host = null;
      try {
        host = new URL(url).host;
      } catch (_) {
        host = null;
      }
      if (url.startsWith("data:") || url.startsWith("blob:") || host === pageHost) {
        return route.continue();
      }
      result.blockedExternal.push(url);
      return route.abort("blockedbyclient");
    });

    context.on("request", (req) => {
      result.requests.push({ url: req.url(), method: req.method(), resourceType: req.resourceType() });
    });
    context.on("requestfailed", (req) => {
      const failure = req.failure();
      result.failedRequests.push({ url: req.url(), error: failure ? failure.errorText : null });
    });
    context.on("response", (resp) => {
      if (resp.status() >= 400) result.httpErrors.push({ url: resp.url(), status: resp.status() });
    });

    // Record CSP violations reported by the page itself.
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        (window.__privchatCspViolations = window.__privchatCspViolations || []).push({
          directive: e.violatedDirective,
          blockedURI: e.blockedURI,
        });
      });
    });

    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() === "error") result.consoleErrors.push(msg.text());
    });
    page.on("pageerror", (err) => result.pageErrors.push(String(err && err.message ? err.message : err)));
    page.on("websocket", (ws) => result.webSockets.push(ws.url()));

    await page.goto(args.url, { waitUntil: "load", timeout: args.timeoutMs });
    await page.waitForSelector(".graphiql-container", { timeout: args.timeoutMs });
    result.rendered = true;
    // The query editor (CodeMirror) is mounted a tick after the container.
    await page.waitForSelector(".graphiql-container .graphiql-query-editor .CodeMirror", {
      timeout: args.timeoutMs,
    });
    result.editorRendered = true;
    // Let lazily triggered requests (schema introspection, ...) happen before summarising.
    await page.waitForLoadState("networkidle", { timeout: args.timeoutMs }).catch(() => {});
    await page.waitForTimeout(500);
    result.title = await page.title();
    result.cspViolations = await page.evaluate(() => window.__privchatCspViolations || []);
    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: false });
    result.ok = true;
  } catch (err) {
    result.error = String(err && err.stack ? err.stack : err);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack ? err.stack : err) }) + "\n");
  process.exit(2);
});

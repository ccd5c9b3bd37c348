// Shared by the web-client browser tests (web_client.mjs) and the benchmark (bench/web.mjs):
// Chromium through playwright-core, pages that record everything a test must fail on
// (console errors, uncaught exceptions, CSP violations, requests to other hosts), and
// the few UI steps every scenario needs (register, log in, befriend...).
import { createRequire } from "node:module";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, "..", "..", "..");

const DEPS = resolve(REPO, process.env.PRIVCHAT_NODE_DEPS_DIR || ".cache/node");

/** Load a package from the node test deps (.cache/node, see scripts/install_node_test_deps.sh). */
export function requireDep(name) {
  return createRequire(join(DEPS, "package.json"))(name);
}

/** A file inside an installed node test package. */
export function depFile(path) {
  return join(DEPS, "node_modules", path);
}

export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
];

export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

export async function launch(chromium = process.env.PRIVCHAT_CHROMIUM || "/usr/bin/chromium") {
  const { chromium: pw } = requireDep("playwright-core");
  if (!existsSync(chromium)) throw new Error(`Chromium not found at ${chromium}`);
  return pw.launch({ executablePath: chromium, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/**
 * A browser context (one device: its own sessionStorage) with one page on the client.
 * `problems` collects what must never happen; a test asserts it stays empty.
 */
export async function openDevice(browser, baseUrl, { viewport = "desktop", name = "device", serviceUrl = null } = {}) {
  const context = await browser.newContext({ viewport: VIEWPORTS[viewport], locale: "en-GB", timezoneId: "Europe/Paris" });
  // The page's server: its client port, and its service port (files), nothing else.
  const hosts = new Set([new URL(baseUrl).host, ...(serviceUrl ? [new URL(serviceUrl).host] : [])]);
  const problems = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || url.startsWith("blob:") || hosts.has(new URL(url).host)) return route.continue();
    problems.push({ kind: "foreign-request", url });
    return route.abort("blockedbyclient");
  });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window.__cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  watchPage(page, problems, name);
  await page.goto(`${baseUrl}/app/`, { waitUntil: "load" });
  const device = { context, page, problems, name };
  device.cspViolations = () => page.evaluate(() => window.__cspViolations || []);
  return device;
}

/** Record the page's console errors and uncaught exceptions into `problems`. */
export function watchPage(page, problems, name) {
  page.on("console", (msg) => {
    // The browser itself logs a connection that failed at the network level (the tests cut
    // the network and restart the server on purpose); anything else is the page's fault.
    const text = msg.text();
    const network = /^WebSocket connection to .* failed|^Failed to load resource: net::ERR_(INTERNET_DISCONNECTED|CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)/.test(text);
    if (msg.type() === "error" && !network) problems.push({ kind: "console-error", device: name, text });
  });
  page.on("pageerror", (err) => problems.push({ kind: "page-error", device: name, text: String(err?.stack || err) }));
  page.on("dialog", (dialog) => dialog.accept());
}

export async function register(page, { username, password, displayName }) {
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill(displayName);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await waitLive(page);
}

export async function login(page, { username, password }) {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await waitLive(page);
}

/** The client has synced and its live stream is released (no banner). */
export async function waitLive(page, timeout = 30_000) {
  await page.waitForFunction(() => window.__privchat?.store.state.status === "live", null, { timeout });
}

/** GraphQL over HTTP from Node (setting up data quickly, or acting as a third party). */
export async function gql(baseUrl, query, variables = {}, token = null) {
  const headers = { "content-type": "application/json", accept: "application/graphql-response+json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}/graphql`, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors) throw new Error(`${body.errors[0].message} (${body.errors[0].extensions?.code})`);
  return body.data;
}

/** Register and log in a user through the API; returns {id, token, username, password}. */
export async function apiUser(baseUrl, username, displayName, password = "correct horse 1") {
  await gql(baseUrl, `mutation($u: String!, $p: String!, $n: String) { accountUserRegister(input: {username: $u, password: $p, displayName: $n}) { user { id } } }`,
    { u: username, p: password, n: displayName });
  return apiLogin(baseUrl, { username, password, displayName });
}

/** Log an API user in (again: tokens expire); returns {id, token, username, password}. */
export async function apiLogin(baseUrl, { username, password, displayName }) {
  const data = await gql(baseUrl, `mutation($u: String!, $p: String!, $d: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: $d, platform: "other"}) { accessToken user { id } } }`,
    { u: username, p: password, d: `api-${username}` });
  return { id: data.accountAuthLogin.user.id, token: data.accountAuthLogin.accessToken, username, password, displayName };
}

export async function befriend(baseUrl, a, b) {
  // As a client does: the search result's proof shows the server that a found b.
  const found = await gql(baseUrl, `query($q: String!) { accountSearchQuery(input: {query: $q}) { results { user { id } searchProof } } }`, { q: b.username }, a.token);
  const hit = found.accountSearchQuery.results.find((r) => r.user.id === b.id);
  if (!hit) throw new Error(`${a.username} searched ${b.username} and did not find them`);
  await gql(baseUrl, `mutation($u: ID!, $p: String) { contactFriendApply(input: {userId: $u, source: SEARCH, searchProof: $p}) { outcome } }`, { u: b.id, p: hit.searchProof }, a.token);
  const data = await gql(baseUrl, `mutation($u: ID!) { contactFriendAccept(input: {userId: $u}) { channelId } }`, { u: a.id }, b.token);
  return data.contactFriendAccept.channelId;
}

export async function apiSend(baseUrl, user, channelId, text, clientMsgId) {
  const data = await gql(baseUrl, `mutation($c: ID!, $id: String!, $t: String!) { messageSend(input: {channelId: $c, clientMsgId: $id, content: {text: {text: $t}}}) { message { id pts } } }`,
    { c: channelId, id: clientMsgId, t: text }, user.token);
  return data.messageSend.message;
}

/**
 * Texts of the messages of the open chat, in order: the list the chat renders (only the
 * rows near the viewport are in the DOM, so the DOM alone cannot say what was received).
 */
export function shownTexts(page) {
  return page.evaluate(() => {
    const { store } = window.__privchat;
    const timeline = store.timeline(store.state.activeId);
    return (timeline?.items || []).filter((m) => m.content?.__typename === "TextContent").map((m) => m.content.text);
  });
}

/** Texts of the message rows in the DOM now (the visible window), in screen order. */
export function renderedTexts(page) {
  return page.locator(".chat .msg:not(.pending) .body").allTextContents();
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir) {
  rmSync(dir, { recursive: true, force: true });
}

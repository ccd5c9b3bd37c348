#!/usr/bin/env node
// Timings of the web client in Chromium, for bench/web (see its docstring). Prints one
// JSON line. Clocks: every figure is taken inside the pages with
// performance.timeOrigin + performance.now() (one machine clock, sub-millisecond).
import * as H from "../../tests/e2e/web/harness.mjs";

const cfg = JSON.parse(process.argv[2]);
const base = cfg.baseUrl;
const user = (username) => ({ username, password: cfg.password });

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: values.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1], mean: values.reduce((a, b) => a + b, 0) / values.length };
}

/** In the page: resolve with the time the first message row containing `text` is in the DOM. */
function installWatcher(page) {
  return page.evaluate(() => {
    window.__seen = new Map();
    window.__waiting = new Map();
    const now = () => performance.timeOrigin + performance.now();
    new MutationObserver(() => {
      for (const [text, resolve] of window.__waiting) {
        for (const el of document.querySelectorAll(".msg .body")) {
          if (el.textContent === text) {
            window.__waiting.delete(text);
            resolve(now());
            break;
          }
        }
      }
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
    window.__expect = (text) => new Promise((resolve) => window.__waiting.set(text, resolve));
  });
}

async function openChat(page, title) {
  await page.locator(".conv", { has: page.locator(".conv-title", { hasText: title }) }).first().click();
  await page.locator(".chat .chat-title h2", { hasText: title }).waitFor();
}

/** In the page: note when a WebSocket message (B) or the send's HTTP answer (A) arrives,
 * to split the trip into server time and client time. */
function recordArrivals() {
  const now = () => performance.timeOrigin + performance.now();
  window.__arrivals = new Map();
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const m = /bench \d+ \w+/.exec(String(e.data));
        if (m) window.__arrivals.set(m[0], now());
      });
    }
  };
}

/** In the page (A): note when the client calls fetch() for a messageSend, so that the
 * request's own resource timing can be found (when it went on the wire, when the answer
 * came): A's side of the trip split into the client, Chromium's network stack, the server. */
function recordSends() {
  window.__sendCalls = [];
  const realFetch = window.fetch;
  window.fetch = function (url, init) {
    if (init && typeof init.body === "string" && init.body.includes("messageSend")) {
      window.__sendCalls.push(performance.now());
    }
    return realFetch.apply(this, arguments);
  };
}

/** In the page (A): the last messageSend's fetch call and its resource timing, epoch ms. */
function lastSendTiming() {
  const called = window.__sendCalls[window.__sendCalls.length - 1];
  const entry = performance
    .getEntriesByType("resource")
    .filter((e) => e.name.endsWith("/graphql") && e.startTime >= called - 0.5)
    .sort((a, b) => a.startTime - b.startTime)[0];
  if (called === undefined || !entry || !entry.requestStart) return null;
  const epoch = (t) => performance.timeOrigin + t;
  return {
    called: epoch(called),
    requestStart: epoch(entry.requestStart),
    responseStart: epoch(entry.responseStart),
    connecting: entry.connectEnd - entry.connectStart, // > 0: a new connection for this request
    started: epoch(entry.startTime),
  };
}

async function sendToRender(browser) {
  const A = await H.openDevice(browser, base, { name: "sender" });
  const B = await H.openDevice(browser, base, { name: "receiver" });
  await B.page.addInitScript(recordArrivals);
  await B.page.reload();
  await A.page.addInitScript(recordSends);
  await A.page.reload();
  await A.page.evaluate(() => performance.setResourceTimingBufferSize(100000));
  await H.login(A.page, user(cfg.sender));
  await H.login(B.page, user(cfg.receiver));
  await openChat(A.page, cfg.receiver);
  await openChat(B.page, cfg.sender);
  await installWatcher(B.page);
  const latencies = [];
  const network = []; // click on A to the event on B's socket: A's request, the server, delivery
  const client = []; // B's socket to the row on B's screen: the client's own work
  const toFetch = []; // A: click to the client's fetch() of the send
  const toWire = []; // A: fetch() to the request on the wire (Chromium's network stack)
  const wireToSocket = []; // the request on the wire to the event on B's socket (server, delivery, B's network stack)
  const answer = []; // the request on the wire to the first byte of its answer at A
  for (let i = 0; i < cfg.messages; i++) {
    const text = `bench ${i} ${Math.random().toString(36).slice(2)}`;
    const seen = B.page.evaluate((t) => window.__expect(t), text);
    await A.page.getByLabel("Message", { exact: true }).fill(text);
    const sentAt = await A.page.evaluate(() => {
      const t = performance.timeOrigin + performance.now();
      document.querySelector(".composer button.send").click();
      return t;
    });
    const renderedAt = await seen;
    latencies.push(renderedAt - sentAt);
    const arrived = await B.page.evaluate((t) => window.__arrivals.get(t), text);
    if (arrived) {
      network.push(arrived - sentAt);
      client.push(renderedAt - arrived);
    }
    // A resource timing entry appears once its answer is complete, maybe after B's render.
    const timing = await A.page
      .waitForFunction(lastSendTiming, null, { timeout: 5000 })
      .then((handle) => handle.jsonValue())
      .catch(() => null);
    if (timing && arrived) {
      toFetch.push(timing.called - sentAt);
      toWire.push(timing.requestStart - timing.called);
      wireToSocket.push(arrived - timing.requestStart);
      if (timing.responseStart) answer.push(timing.responseStart - timing.requestStart);
      if (process.env.BENCH_WEB_DEBUG) process.stderr.write(JSON.stringify({ ...timing, sentAt }) + "\n");
    }
  }
  const problems = [...A.problems, ...B.problems];
  await A.context.close();
  await B.context.close();
  return {
    ...stats(latencies),
    toSocket: stats(network),
    socketToRender: stats(client),
    toFetch: stats(toFetch),
    toWire: stats(toWire),
    wireToSocket: stats(wireToSocket),
    answer: stats(answer),
    problems,
  };
}

/** The same trip without a browser: messageSend over HTTP, the event on a graphql-ws
 * socket, both from Node. The browser figures are read against this one (same run). */
async function baseline() {
  const { createRequire } = await import("node:module");
  const { pathToFileURL } = await import("node:url");
  const req = createRequire(H.depFile("../package.json"));
  const { createClient } = await import(pathToFileURL(req.resolve("graphql-ws")).href);
  const WebSocket = (await import(pathToFileURL(req.resolve("ws")).href)).default;
  const sender = await H.apiLogin(base, user(cfg.sender));
  const receiver = await H.apiLogin(base, user(cfg.receiver));
  const channel = await H.gql(base, `mutation($u: ID!) { channelDirectGetOrCreate(input: {userId: $u}) { channel { id } } }`, { u: receiver.id }, sender.token);
  const channelId = channel.channelDirectGetOrCreate.channel.id;
  const ws = createClient({ url: base.replace(/^http/, "ws") + "/graphql", webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${receiver.token}` } });
  const waiting = new Map();
  const unsubscribe = ws.subscribe({ query: `subscription { events { ... on MessageEvent { message { clientMsgId } } } }` }, {
    next: ({ data }) => {
      const id = data?.events?.message?.clientMsgId;
      if (waiting.has(id)) waiting.get(id)(performance.now());
    },
    error: () => {},
    complete: () => {},
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const latencies = [];
  for (let i = 0; i < cfg.messages; i++) {
    const id = `base-${i}-${Date.now()}`;
    const seen = new Promise((resolve) => waiting.set(id, resolve));
    const t0 = performance.now();
    await H.apiSend(base, sender, channelId, `baseline ${i}`, id);
    latencies.push((await seen) - t0);
  }
  unsubscribe();
  await ws.dispose();
  return stats(latencies);
}

async function conversations(browser) {
  const L = await H.openDevice(browser, base, { name: "lister" });
  await H.login(L.page, user(cfg.lister));
  await L.page.waitForFunction((n) => window.__privchat.store.state.conversations.size >= n, cfg.channels, { timeout: 120_000 });
  // Logged in (the session is in this tab): reload and time the list from page load.
  await L.page.addInitScript(() => {
    const now = () => performance.now(); // since this page load's timeOrigin
    window.__marks = {};
    new MutationObserver(() => {
      if (!window.__marks.firstRows && document.querySelector(".conv")) window.__marks.firstRows = now();
    }).observe(document, { childList: true, subtree: true });
  });
  await L.page.reload();
  await L.page.waitForFunction((n) => window.__privchat?.store.state.conversations.size >= n && window.__marks.firstRows, cfg.channels, { timeout: 120_000 });
  const marks = await L.page.evaluate(() => ({ ...window.__marks, allLoaded: performance.now() }));
  const rows = await L.page.locator(".conv").count();
  // The (virtualised) chat with the long history: click to first rows.
  await L.page.locator(`.conv[data-channel-id="${cfg.bigChannel}"]`).waitFor();
  const opened = await L.page.evaluate((id) => {
    const t0 = performance.now();
    const row = document.querySelector(`.conv[data-channel-id="${id}"]`);
    return new Promise((resolve) => {
      new MutationObserver((_, obs) => {
        if (document.querySelectorAll(".chat .msg").length > 0) {
          obs.disconnect();
          resolve(performance.now() - t0);
        }
      }).observe(document.body, { childList: true, subtree: true });
      row.click();
    });
  }, cfg.bigChannel);
  // Load the whole history into the list (as someone scrolling all the way up would).
  await L.page.evaluate(async () => {
    const { store } = window.__privchat;
    const id = store.state.activeId;
    while (store.timeline(id).hasMore) await store.loadOlder(id);
  });
  await L.page.waitForTimeout(300);
  const loaded = await L.page.evaluate(() => window.__privchat.store.timeline(window.__privchat.store.state.activeId).items.length);
  const domRows = await L.page.locator(".chat .vl-row").count();
  // One more message (sent by this user) with everything loaded: click to its row.
  await installWatcher(L.page);
  const text = `one more ${Date.now()}`;
  const seen = L.page.evaluate((t) => window.__expect(t), text);
  await L.page.getByLabel("Message", { exact: true }).fill(text);
  const sentAt = await L.page.evaluate(() => {
    const t = performance.timeOrigin + performance.now();
    document.querySelector(".composer button.send").click();
    return t;
  });
  const oneMore = (await seen) - sentAt;
  const problems = L.problems;
  await L.context.close();
  return {
    conversations: { firstRows: marks.firstRows, allLoaded: marks.allLoaded, rowsInDom: rows },
    history: { firstRows: opened, loaded, domRows, oneMore },
    problems,
  };
}

async function main() {
  const browser = await H.launch();
  try {
    const baselineResult = await baseline();
    const sendToRenderResult = await sendToRender(browser);
    const lists = await conversations(browser);
    const problems = [...sendToRenderResult.problems, ...lists.problems];
    process.stdout.write(JSON.stringify({ ok: problems.length === 0, problems, baseline: baselineResult, sendToRender: sendToRenderResult, ...lists }) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack || err) }) + "\n");
  process.exit(2);
});

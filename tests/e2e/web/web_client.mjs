#!/usr/bin/env node
// The web client in a real browser (Chromium via playwright-core) against a real server.
// Driven by tests/e2e/test_web_client.py:
//
//   node tests/e2e/web/web_client.mjs <scenario> '{"baseUrl": "...", "artifacts": "/dir"}'
//
// Scenarios: two-users, group, devices, session, files. Each prints JSON lines on stdout: control
// requests for the Python side ({"control": "stop-server"} and {"control": "start-server"},
// answered by a line on stdin once done), then one final {"ok": true|false, ...} line.
// A failed check ends the scenario with ok=false, the reason and a screenshot of every page.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { createHmac } from "node:crypto";
import * as H from "./harness.mjs";

const [scenarioName, rawConfig] = process.argv.slice(2);
const config = JSON.parse(rawConfig || "{}");
const base = config.baseUrl;
const artifacts = config.artifacts || H.tempDir("privchat-web-");
mkdirSync(artifacts, { recursive: true });
const TIMEOUT = 20_000;
const facts = {};
const opened = [];

const started = Date.now();
/** Seconds since the scenario started, per phase (in the report, to see where time goes). */
function phase(name) {
  (facts.phases ||= {})[name] = (Date.now() - started) / 1000;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const stdin = createInterface({ input: process.stdin });
const answers = stdin[Symbol.asyncIterator]();
/** Ask the Python side to do something to the server (stop it, start it) and wait. */
async function control(request) {
  process.stdout.write(JSON.stringify({ control: request }) + "\n");
  const { value } = await answers.next();
  check(value && value.trim() === "ok", `control ${request} answered ${value}`);
}

async function device(browser, name, viewport = "desktop") {
  const d = await H.openDevice(browser, base, { name, viewport, serviceUrl: config.serviceUrl });
  opened.push(d);
  return d;
}

async function shot(d, file) {
  await d.page.screenshot({ path: join(artifacts, file) });
  (facts.screenshots ||= []).push(file);
}

/** axe-core on the page as it is now: violations of impact serious or critical. */
async function axe(d, screen) {
  const source = readFileSync(H.depFile("axe-core/axe.min.js"), "utf8");
  // page.evaluate runs through the DevTools protocol, so the page's CSP does not block it.
  await d.page.evaluate(source);
  const result = await d.page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  (facts.axe ||= {})[screen] = result;
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `axe on ${screen}: ${JSON.stringify(bad)}`);
}

const sidebarLink = (d, name) => d.page.locator(".sidebar-actions").getByRole("link", { name: new RegExp(`^${name}`) });
const conv = (d, title) => d.page.locator(".conv", { has: d.page.locator(".conv-title", { hasText: title }) });
const composer = (d) => d.page.getByLabel("Message", { exact: true });

async function openConversation(d, title) {
  await conv(d, title).first().click();
  await d.page.locator(".chat .chat-title h2", { hasText: title }).waitFor({ timeout: TIMEOUT });
}

async function sendText(d, text) {
  await composer(d).fill(text);
  await composer(d).press("Enter");
}

async function waitMessage(d, text) {
  await d.page.locator(".chat .msg:not(.pending) .body", { hasText: text }).last().waitFor({ timeout: TIMEOUT });
}

async function messageState(d) {
  return d.page.evaluate(() => {
    const { store } = window.__privchat;
    const t = store.timeline(store.state.activeId);
    return { pts: (t?.items || []).map((m) => m.pts), outbox: store.state.outbox.size };
  });
}

// -- scenarios ---------------------------------------------------------------------------

async function twoUsers(browser) {
  const A = await device(browser, "ann", "desktop");
  const B = await device(browser, "bob", "phone");
  await A.page.getByRole("heading", { name: "Log in to PrivChat" }).waitFor();
  await axe(A, "login");
  await shot(A, "login-desktop.png");
  await H.register(A.page, { username: "ann", password: "correct horse 1", displayName: "Ann" });
  await H.register(B.page, { username: "bob", password: "correct horse 2", displayName: "Bob" });

  // Ann finds Bob and asks; Bob sees the request live and accepts.
  await sidebarLink(A, "Friends").click();
  await A.page.getByLabel("Find people").fill("bob");
  await A.page.getByRole("button", { name: "Search", exact: true }).click();
  await A.page.getByRole("button", { name: "Add friend" }).click();
  await A.page.getByText("Request sent").waitFor({ timeout: TIMEOUT });
  await axe(A, "friends");
  await B.page.locator(".sidebar-actions .badge", { hasText: "1" }).waitFor({ timeout: TIMEOUT });
  await sidebarLink(B, "Friends").click();
  await B.page.getByRole("button", { name: "Accept Ann" }).click();
  // The direct chat appears on both sides without a reload.
  await conv(A, "Bob").waitFor({ timeout: TIMEOUT });
  await B.page.goto(`${base}/app/#/`);
  await H.waitLive(B.page);
  await conv(B, "Ann").waitFor({ timeout: TIMEOUT });

  // Ann writes; Bob, on the list, sees it arrive with an unread count.
  await openConversation(A, "Bob");
  await sendText(A, "hello bob");
  await waitMessage(A, "hello bob");
  await sendText(A, "are you there?");
  await conv(B, "Ann").locator(".badge[data-unread='2']").waitFor({ timeout: TIMEOUT });
  facts.unreadSeenByBob = 2;
  await shot(B, "conversations-phone.png");
  await axe(B, "conversations-phone");

  // Bob opens the chat: the badge goes, Ann's messages get two ticks (read).
  await openConversation(B, "Ann");
  await waitMessage(B, "are you there?");
  await A.page.locator(".msg.mine .ticks.read").last().waitFor({ timeout: TIMEOUT });
  check(await conv(B, "Ann").locator(".badge[data-unread]").count() === 0, "unread badge cleared once read");

  // Presence: both online. Typing: Ann sees Bob typing.
  await A.page.locator(".chat-header .subtitle", { hasText: "online" }).waitFor({ timeout: TIMEOUT });
  await composer(B).type("hi A");
  await A.page.locator(".chat-header .subtitle.typing", { hasText: "Bob is typing" }).waitFor({ timeout: TIMEOUT });
  // Bob replies to Ann's first message.
  await composer(B).fill("");
  const first = B.page.locator(".msg", { hasText: "hello bob" });
  await first.hover();
  await first.getByRole("button", { name: "Reply" }).click();
  await sendText(B, "hi ann, yes");
  await waitMessage(A, "hi ann, yes");
  const reply = A.page.locator(".msg", { hasText: "hi ann, yes" });
  check((await reply.locator(".reply-quote").textContent()).includes("hello bob"), "the reply quotes the original");
  await A.page.locator(".chat-header .subtitle.typing").waitFor({ state: "detached", timeout: TIMEOUT }).catch(() => {});

  // Hostile text: markup, a script, a huge word, zero-width and bidi characters stay text.
  const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> ${"W".repeat(400)} a\u200Bb \u202Eevil\u202C שלום`;
  await sendText(A, hostile);
  await waitMessage(B, "onerror");
  const shown = await B.page.locator(".msg .body", { hasText: "onerror" }).last().textContent();
  check(shown === hostile, `hostile text shown verbatim (got ${JSON.stringify(shown)})`);
  check(await B.page.locator(".msg img, .msg script").count() === 0, "no element made from message text");
  check(await B.page.evaluate(() => window.__pwned === undefined), "no script ran");
  const overflow = await B.page.evaluate(() => {
    const list = document.querySelector(".messages");
    return { scroll: list.scrollWidth, client: list.clientWidth, page: document.documentElement.scrollWidth, vw: window.innerWidth };
  });
  check(overflow.scroll <= overflow.client + 1 && overflow.page <= overflow.vw + 1, `layout intact: ${JSON.stringify(overflow)}`);
  // A link becomes a safe link; a javascript: URL does not.
  await sendText(A, "see https://example.com/a?b=1 and javascript:alert(1)");
  await waitMessage(B, "see https://example.com");
  const links = await B.page.locator(".msg .body a").evaluateAll((as) => as.map((a) => [a.getAttribute("href"), a.rel]));
  check(links.length === 1 && links[0][0] === "https://example.com/a?b=1" && links[0][1].includes("noopener"), `links ${JSON.stringify(links)}`);

  // Times are in the user's locale (en-GB here: 24-hour clock).
  const time = await A.page.locator(".msg time").first().textContent();
  check(/^\d{2}:\d{2}$/.test(time), `locale time ${time}`);

  // Keyboard only: from the composer, Tab reaches Send; Enter in the composer sends.
  await composer(A).focus();
  await A.page.keyboard.type("sent with the keyboard");
  await A.page.keyboard.press("Enter");
  await waitMessage(B, "sent with the keyboard");

  // Message search.
  await sidebarLink(A, "Search").click();
  await A.page.getByLabel("Words to find").fill("keyboard");
  await A.page.keyboard.press("Enter");
  await A.page.locator(".results .result-text", { hasText: "sent with the keyboard" }).waitFor({ timeout: TIMEOUT });
  await axe(A, "search");
  await A.page.locator(".results a").first().click();
  await waitMessage(A, "sent with the keyboard");
  await axe(A, "chat-desktop");
  await shot(A, "chat-desktop.png");
  await axe(B, "chat-phone");
  await shot(B, "chat-phone.png");
  const a = await messageState(A);
  check(new Set(a.pts).size === a.pts.length && a.outbox === 0, `no duplicates, nothing pending: ${JSON.stringify(a)}`);

  // Ann renames herself (through the API, as another of her apps would): Bob's open chat,
  // his conversation list and Ann's own top bar follow live, without a reload.
  await A.page.evaluate(() => window.__privchat.store.api.request(
    'mutation { accountProfileUpdate(input: {displayName: "Annie B"}) { profile { displayName } } }'));
  await B.page.locator(".chat .chat-title h2", { hasText: "Annie B" }).waitFor({ timeout: TIMEOUT });
  await conv(B, "Annie B").waitFor({ state: "attached", timeout: TIMEOUT }); // hidden behind the chat on a phone
  await A.page.locator(".topbar .whoami", { hasText: "Annie B" }).waitFor({ timeout: TIMEOUT });
  // And back through her profile page's form.
  await A.page.locator("a.whoami").click();
  await A.page.getByLabel("Display name").fill("Ann");
  await A.page.getByRole("button", { name: "Save name" }).click();
  await B.page.locator(".chat .chat-title h2", { hasText: /^Ann$/ }).waitFor({ timeout: TIMEOUT });
  await A.page.locator(".topbar .whoami span", { hasText: /^Ann$/ }).waitFor({ timeout: TIMEOUT });
  phase("renamed");
}

async function group(browser) {
  const carol = await H.apiUser(base, "carol", "Carol");
  const dave = await H.apiUser(base, "dave", "Dave");
  const erin = await H.apiUser(base, "erin", "<i>Erin</i>"); // a name with markup stays text
  await H.befriend(base, carol, dave);
  await H.befriend(base, carol, erin);
  const C = await device(browser, "carol", "desktop");
  const D = await device(browser, "dave", "desktop");
  const E = await device(browser, "erin", "phone");
  await H.login(C.page, carol);
  await H.login(D.page, dave);
  await H.login(E.page, erin);

  // Carol creates the group with Dave, then invites Erin from its details.
  await sidebarLink(C, "New group").click();
  await C.page.getByLabel("Group name").fill("Trip");
  await C.page.getByLabel("Dave").check();
  await C.page.getByRole("button", { name: "Create group" }).click();
  await C.page.locator(".chat .chat-title h2", { hasText: "Trip" }).waitFor({ timeout: TIMEOUT });
  await conv(D, "Trip").waitFor({ timeout: TIMEOUT });
  await C.page.getByRole("link", { name: "Details" }).click();
  await C.page.getByLabel("Erin").check();
  await C.page.getByRole("button", { name: "Invite" }).click();
  await C.page.locator(".members li[data-user-id]").nth(2).waitFor({ timeout: TIMEOUT });
  await conv(E, "Trip").waitFor({ timeout: TIMEOUT });
  // Roles: the owner makes Dave an admin.
  await C.page.getByRole("button", { name: "Make admin: Dave" }).click();
  await C.page.locator(`.members li[data-user-id="${dave.id}"] .role[data-role="ADMIN"]`).waitFor({ timeout: TIMEOUT });
  check(await C.page.locator(".members li", { hasText: "<i>Erin</i>" }).count() === 1, "a name with markup is shown as typed");
  check(await C.page.locator("main i").count() === 0, "no element made from a name");
  await axe(C, "group-details");
  await C.page.getByRole("link", { name: "Back to the chat" }).click();

  // Dave mentions Carol (picked from the suggestions with the keyboard).
  await openConversation(D, "Trip");
  await composer(D).type("@Ca");
  await D.page.getByRole("option", { name: "@Carol" }).waitFor({ timeout: TIMEOUT });
  await composer(D).press("Enter");
  await composer(D).type("see you at 8");
  await composer(D).press("Enter");
  await waitMessage(C, "see you at 8");
  check(await C.page.locator(".msg.mentions-me", { hasText: "see you at 8" }).count() === 1, "Carol's mention is highlighted");
  // Erin, not in the chat, sees it as unread, without the mention badge (not mentioned).
  await conv(E, "Trip").locator(".conv-preview", { hasText: "see you at 8" }).waitFor({ timeout: TIMEOUT });
  await conv(E, "Trip").locator(".badge[data-unread]").waitFor({ timeout: TIMEOUT });
  check(await conv(E, "Trip").locator(".badge.mention").count() === 0, "no mention badge for Erin");
  // Carol was mentioned: her list shows the badge until she reads (she is in the chat: read at once).
  await openConversation(E, "Trip");
  await waitMessage(E, "see you at 8");

  // Erin reacts; everybody sees the count.
  const msgE = E.page.locator(".msg", { hasText: "see you at 8" });
  await msgE.hover();
  await msgE.getByRole("button", { name: "React" }).click();
  await msgE.getByRole("button", { name: "React with 👍" }).click();
  for (const d of [C, D, E]) await d.page.locator(".msg", { hasText: "see you at 8" }).locator(".reaction", { hasText: "1" }).waitFor({ timeout: TIMEOUT });
  await C.page.mouse.move(0, 0);
  await shot(C, "group-desktop.png");
  await shot(E, "group-phone.png");

  // Dave recalls it: gone for everyone, with the system line.
  const msgD = D.page.locator(".msg", { hasText: "see you at 8" });
  await msgD.hover();
  await msgD.getByRole("button", { name: "Recall" }).click();
  for (const d of [C, D, E]) {
    await d.page.locator(".msg .recalled").waitFor({ timeout: TIMEOUT });
    await d.page.locator(".system-line", { hasText: "Dave recalled a message" }).waitFor({ timeout: TIMEOUT });
    check(await d.page.locator(".msg .body", { hasText: "see you at 8" }).count() === 0, `recalled text gone on ${d.name}`);
  }
  await axe(E, "group-chat-phone");

  // Erin leaves: the group disappears from her list; the others see the system line.
  await E.page.getByRole("link", { name: "Details" }).click();
  await E.page.getByRole("button", { name: "Leave group" }).click();
  await conv(E, "Trip").waitFor({ state: "detached", timeout: TIMEOUT });
  await C.page.locator(".system-line", { hasText: "Erin" }).last().waitFor({ timeout: TIMEOUT });
}

async function devices(browser) {
  const fay = { username: "fay", password: "correct horse 3", displayName: "Fay" };
  const gus = await H.apiUser(base, "gus", "Gus");
  const fayApi = await H.apiUser(base, fay.username, fay.displayName, fay.password);
  const channelId = await H.befriend(base, gus, fayApi);
  // Two tabs of one browser: two devices (each tab has its own session).
  const F1 = await device(browser, "fay-tab1", "desktop");
  await H.login(F1.page, fay);
  const tab2 = await F1.context.newPage();
  const F2 = { ...F1, page: tab2, name: "fay-tab2" };
  H.watchPage(tab2, F1.problems, "fay-tab2");
  await tab2.goto(`${base}/app/`);
  await H.login(tab2, fay);
  const ids = await Promise.all([F1, F2].map((d) => d.page.evaluate(() => sessionStorage.getItem("privchat.deviceId"))));
  check(ids[0] !== ids[1], "two tabs are two devices");

  phase("tabs logged in");
  const EARLIER = 55; // more than one page of history (50)
  for (let i = 1; i <= EARLIER; i++) await H.apiSend(base, gus, channelId, `before ${i}`, `gus-before-${i}`);
  for (const d of [F1, F2]) await conv(d, "Gus").locator(`.badge[data-unread='${EARLIER}']`).waitFor({ timeout: TIMEOUT });
  // Reading on one device clears the badge on the other; pinning shows on both.
  await openConversation(F1, "Gus");
  await waitMessage(F1, `before ${EARLIER}`);
  // History scrolls upwards without end: the first page is the latest 50; scrolling to the
  // top loads the rest, and the reader stays where they were.
  check(!(await H.shownTexts(F1.page)).includes("before 1"), "only the latest page at first");
  // Scroll to the top until the first message is on screen. (Not a fixed number of tries:
  // the older page may arrive after them, and the list then keeps the reader where they
  // were, which left "before 1" off screen on a busy machine.)
  await F1.page.waitForFunction(() => {
    const list = document.querySelector(".messages");
    list.scrollTop = 0;
    return [...list.querySelectorAll(".msg:not(.pending) .body")].some((el) => el.textContent === "before 1");
  }, null, { timeout: TIMEOUT, polling: 200 });
  await F1.page.locator(".history-edge", { hasText: "beginning of the conversation" }).waitFor({ timeout: TIMEOUT });
  await F1.page.locator(".messages").evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await conv(F2, "Gus").locator(".badge[data-unread]").waitFor({ state: "detached", timeout: TIMEOUT });
  await F1.page.getByRole("button", { name: "Pin", exact: true }).click();
  await conv(F2, "Gus").locator(".marker.pin").waitFor({ timeout: TIMEOUT });
  await sendText(F1, "from tab 1");
  // Confirmed on tab 1 too before comparing (its answer may come after tab 2's event).
  await waitMessage(F1, "from tab 1");
  await openConversation(F2, "Gus");
  await waitMessage(F2, "from tab 1");
  // Tab 1 scrolled up and loaded all of it; tab 2 has the latest page: the same messages.
  const [all1, latest2] = [await H.shownTexts(F1.page), await H.shownTexts(F2.page)];
  check(latest2.length >= 50 && JSON.stringify(all1.slice(-latest2.length)) === JSON.stringify(latest2), "both tabs show the same chat");

  phase("tabs consistent");
  // A third device in its own browser context goes offline; 20 messages arrive meanwhile.
  const F3 = await device(browser, "fay-laptop", "desktop");
  await H.login(F3.page, fay);
  await openConversation(F3, "Gus");
  await waitMessage(F3, "from tab 1");
  const before = await H.shownTexts(F3.page);
  await F3.context.setOffline(true);
  await F3.page.locator(".banner.offline").waitFor({ timeout: TIMEOUT });
  const missed = Array.from({ length: 20 }, (_, i) => `missed ${i + 1}`);
  for (const [i, text] of missed.entries()) await H.apiSend(base, gus, channelId, text, `gus-missed-${i}`);
  // Written while offline: shown at once, not sent yet.
  await sendText(F3, "written offline");
  await F3.page.locator(".msg.pending.failed", { hasText: "written offline" }).waitFor({ timeout: TIMEOUT });
  await F3.page.waitForTimeout(500);
  check(!(await H.shownTexts(F3.page)).includes("missed 1"), "nothing arrives while offline");
  phase("offline, 20 sent");
  await F3.context.setOffline(false);
  await waitMessage(F3, "written offline");
  await H.waitLive(F3.page);
  const after = await H.shownTexts(F3.page);
  check(JSON.stringify(after) === JSON.stringify([...before, ...missed, "written offline"]),
    `exactly the 20 missed, once, in order, then what was written offline: ${JSON.stringify(after.slice(before.length))}`);
  facts.offlineMissed = after.length - before.length - 1;
  check((await messageState(F3)).outbox === 0, "the offline message was sent");
  // Sent once: the retry reused its clientMsgId (the peer's history has it once).
  const history = await H.gql(base, `query($c: ID!) { messageHistoryGet(input: {channelId: $c, limit: 5}) { messages { content { ... on TextContent { text } } } } }`,
    { c: channelId }, gus.token);
  const copies = history.messageHistoryGet.messages.filter((m) => m.content?.text === "written offline").length;
  check(copies === 1, `stored once, got ${copies}`);
  const rendered = await H.renderedTexts(F3.page);
  check(JSON.stringify(rendered) === JSON.stringify(after.slice(-rendered.length)), `the screen shows the newest, in order: ${JSON.stringify(rendered)}`);

  phase("offline device caught up");
  // The server restarts; 20 more are sent while the devices reconnect.
  await control("stop-server");
  await F3.page.locator(".banner.shown").waitFor({ timeout: TIMEOUT });
  phase("server stopped");
  await control("start-server");
  phase("server started");
  const restartMissed = Array.from({ length: 20 }, (_, i) => `after restart ${i + 1}`);
  for (const [i, text] of restartMissed.entries()) await H.apiSend(base, gus, channelId, text, `gus-restart-${i}`);
  for (const d of [F3, F2]) {
    await waitMessage(d, "after restart 20");
    await H.waitLive(d.page);
  }
  phase("caught up after restart");
  const final = await H.shownTexts(F3.page);
  check(JSON.stringify(final) === JSON.stringify([...before, ...missed, "written offline", ...restartMissed]),
    `restart: exactly once, in order: ${JSON.stringify(final.slice(before.length + 21))}`);
  // Each device loaded history from a different point: they agree where both have it.
  const inTab2 = await H.shownTexts(F2.page);
  const common = Math.min(final.length, inTab2.length);
  check(common >= 50 && JSON.stringify(final.slice(-common)) === JSON.stringify(inTab2.slice(-common)), "tab 2 agrees after the restart");
  const state = await messageState(F3);
  check(new Set(state.pts).size === state.pts.length, "no pts twice in the timeline");
  facts.restartMissed = final.length - before.length - 21;
  // Sending after the restart works from every device.
  await sendText(F3, "back online");
  await waitMessage(F1, "back online");
}

/** The same JWT with other claims, signed with the server's key (the test knows it). */
function resign(token, secret, claims) {
  const [header, payload] = token.split(".");
  const body = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url")), ...claims })).toString("base64url")}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

async function session(browser) {
  const hal = { username: "hal", password: "correct horse 4", displayName: "Hal" };
  const halApi = await H.apiUser(base, hal.username, hal.displayName, hal.password);
  const ivy = await H.apiUser(base, "ivy", "Ivy");
  const channelId = await H.befriend(base, ivy, halApi);
  const A = await device(browser, "hal", "desktop");
  await H.login(A.page, hal);
  await openConversation(A, "Ivy");
  // Mid-session the access token expires while the page still believes it is good (a
  // sleeping laptop, a skewed clock): the server refuses it with TOKEN_EXPIRED, and the
  // client must refresh and retry without bothering the user.
  const token = await A.page.evaluate(() => window.__privchat.store.api.session.accessToken);
  const now = Math.floor(Date.now() / 1000);
  const expired = resign(token, config.jwtSecret, { iat: now - 120, exp: now - 60 });
  await A.page.evaluate((t) => {
    const api = window.__privchat.store.api;
    api.saveSession({ ...api.session, accessToken: t, expiresAt: Date.now() + 3_600_000 });
  }, expired);
  await sendText(A, "after expiry");
  await waitMessage(A, "after expiry");
  const state = await messageState(A);
  check(state.outbox === 0, "sent with a refreshed token");
  const now2 = await A.page.evaluate(() => window.__privchat.store.api.session.accessToken);
  check(now2 !== expired, "the expired token was replaced");
  check(await A.page.getByRole("heading", { name: "Log in to PrivChat" }).count() === 0, "still logged in");
  await H.apiSend(base, ivy, channelId, "still live", "ivy-live-1");
  await waitMessage(A, "still live");

  // Another device logs this one out: back to the login screen, with the reason.
  const deviceId = await A.page.evaluate(() => sessionStorage.getItem("privchat.deviceId"));
  const other = await H.gql(base, `mutation($u: String!, $p: String!) { accountAuthLogin(input: {username: $u, password: $p, deviceId: "phone", platform: "android"}) { accessToken } }`,
    { u: hal.username, p: hal.password });
  await H.gql(base, `mutation($d: String!) { deviceRevoke(input: {deviceId: $d}) { revoked } }`, { d: deviceId }, other.accountAuthLogin.accessToken);
  await A.page.getByRole("heading", { name: "Log in to PrivChat" }).waitFor({ timeout: TIMEOUT });
  const reason = await A.page.locator(".login-reason").textContent();
  check(/logged out/i.test(reason), `a reason is shown: ${reason}`);
  facts.revokedReason = reason;
}


/** Upload a file from Node as `user` (the PUT way: no tus needed here); returns its id. */
async function apiUpload(user, path, mime, purpose) {
  const bytes = readFileSync(path);
  const data = await H.gql(base, `mutation($i: FileRequestUploadTokenInput!) { fileRequestUploadToken(input: $i) { fileId uploadUrl } }`,
    { i: { name: path.split("/").pop(), size: bytes.length, mime, purpose } }, user.token);
  const { fileId, uploadUrl } = data.fileRequestUploadToken;
  const put = await fetch(uploadUrl, { method: "PUT", body: bytes });
  check(put.status === 200, `PUT ${purpose} answered ${put.status}`);
  return fileId;
}

/** As the operator (the service key): a published sticker pack of these images. */
async function publishPack(name, fileIds) {
  const admin = async (query, variables) => {
    const response = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-service-key": config.serviceKey },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors) throw new Error(`${body.errors[0].message} (${body.errors[0].extensions?.code})`);
    return body.data;
  };
  const created = await admin(`mutation($i: AdminStickerPackageCreateInput!) { adminStickerPackageCreate(input: $i) { package { id } } }`,
    { i: { name, stickers: fileIds.map((fileId, i) => ({ fileId, emoji: ["😺", "🐶"][i % 2] })) } });
  const id = created.adminStickerPackageCreate.package.id;
  await admin(`mutation($p: ID!) { adminStickerPackagePublish(input: {packageId: $p}) { package { id } } }`, { p: id });
  return id;
}

/** Choose files in the page's file dialog, opened by clicking `button`. */
async function chooseFiles(d, button, files) {
  const [chooser] = await Promise.all([d.page.waitForEvent("filechooser"), button.click()]);
  await chooser.setFiles(files);
}

/** Slow this device's uploads (bytes per second; -1: no limit), through the DevTools protocol. */
async function throttleUploads(d, bytesPerSecond, offline = false) {
  d.cdp ||= await d.context.newCDPSession(d.page);
  await d.cdp.send("Network.enable");
  await d.cdp.send("Network.emulateNetworkConditions", { offline, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
}

async function messageCount(d) {
  return d.page.evaluate(() => {
    const { store } = window.__privchat;
    return store.timeline(store.state.activeId)?.items.length ?? 0;
  });
}

/** Take a notice down before a screenshot. Notices also go by themselves after 6 s, maybe
 * between finding one and clicking it: then there is nothing left to click. */
async function dismissNotice(page) {
  const notice = page.locator(".notice");
  if (!(await notice.count())) return;
  await notice.getByRole("button", { name: "Dismiss" }).click({ timeout: 2000 }).catch(() => {});
  await notice.waitFor({ state: "detached", timeout: TIMEOUT });
}

async function filesScenario(browser) {
  const fx = config.fixtures;
  const jo = { username: "joan", password: "correct horse 5", displayName: "Jo" };
  const joApi = await H.apiUser(base, jo.username, jo.displayName, jo.password);
  const kim = { username: "kim", password: "correct horse 6", displayName: "Kim" };
  const kimApi = await H.apiUser(base, kim.username, kim.displayName, kim.password);
  await H.befriend(base, joApi, kimApi);
  const stickers = [await apiUpload(joApi, fx.sticker, "image/png", "STICKER"), await apiUpload(joApi, fx.sticker2, "image/png", "STICKER")];
  await publishPack("Cats", stickers);

  const J = await device(browser, "jo", "desktop");
  const K = await device(browser, "kim", "phone");
  await H.login(J.page, jo);
  await H.login(K.page, kim);
  await openConversation(J, "Kim");
  await openConversation(K, "Jo");
  phase("logged in");

  // A photo, uploaded slowly enough to see the progress bar move; Kim sees the thumbnail.
  await throttleUploads(J, 200 * 1024);
  await chooseFiles(J, J.page.getByRole("button", { name: "Attach a photo or file" }), fx.photo);
  const bar = J.page.locator(".msg.pending progress");
  await bar.waitFor({ timeout: TIMEOUT });
  const seen = new Set();
  for (let i = 0; i < 100 && seen.size < 3; i++) {
    const value = await bar.evaluate((el) => el.value).catch(() => null);
    if (value === null) break;
    if (value > 0 && value < 100) seen.add(value);
    await J.page.waitForTimeout(100);
  }
  check(seen.size >= 2, `the progress bar moved: ${[...seen]}`);
  facts.progressSeen = [...seen].sort((a, b) => a - b);
  await shot(J, "uploading-desktop.png");
  await throttleUploads(J, -1);
  await J.page.locator(".msg:not(.pending) .image-message img.thumb:not(.loading)").first().waitFor({ timeout: TIMEOUT });
  const thumb = K.page.locator(".msg:not(.pending) .image-message img.thumb:not(.loading)").last();
  await thumb.waitFor({ timeout: TIMEOUT });
  await K.page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await thumb.elementHandle(), { timeout: TIMEOUT });
  const natural = await thumb.evaluate((el) => [el.naturalWidth, el.naturalHeight, new URL(el.src).pathname]);
  check(natural[0] <= 320 && natural[1] <= 320 && natural[0] > 100 && natural[2].startsWith("/api/app/files/"), `Kim sees the server's thumbnail: ${natural}`);
  facts.thumbnail = natural.slice(0, 2);
  // Kim opens it: the full picture, at its size; Escape closes it.
  await K.page.getByRole("button", { name: /^Open the photo/ }).last().click();
  const full = K.page.locator(".viewer img.full");
  await full.waitFor({ timeout: TIMEOUT });
  await K.page.waitForFunction(() => {
    const img = document.querySelector(".viewer img.full");
    return img && img.complete && img.naturalWidth >= 1000;
  }, null, { timeout: TIMEOUT });
  facts.fullImage = await full.evaluate((el) => [el.naturalWidth, el.naturalHeight]);
  check(facts.fullImage[0] === fx.photoSize[0] && facts.fullImage[1] === fx.photoSize[1], `the full picture: ${facts.fullImage}`);
  await axe(K, "photo-viewer-phone");
  await shot(K, "photo-viewer-phone.png");
  for (let i = 0; i < 3; i++) {
    await K.page.keyboard.press("Tab");
    check(await K.page.evaluate(() => !!document.activeElement?.closest(".viewer")), "Tab stays in the viewer");
  }
  await K.page.keyboard.press("Escape");
  await full.waitFor({ state: "detached", timeout: TIMEOUT });
  await K.page.waitForFunction(() => document.activeElement?.classList.contains("image-open"), null, { timeout: 2000 })
    .catch(() => {});
  const focused = await K.page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80));
  check(/image-open/.test(focused), `focus is back on the photo: ${focused}`);
  await sendText(K, "What a view! Can you send the packing list?");
  await waitMessage(J, "packing list");
  phase("photo seen");

  // A file: Kim sees its name and size, and downloads it (through the access-checked link).
  await chooseFiles(J, J.page.getByRole("button", { name: "Attach a photo or file" }), fx.document);
  const card = K.page.locator(".msg:not(.pending) .file-message", { hasText: "notes.txt" });
  await card.waitFor({ timeout: TIMEOUT });
  const [download] = await Promise.all([K.page.waitForEvent("download"), card.getByRole("link", { name: "Download notes.txt" }).click()]);
  const stream = await download.createReadStream();
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  check(Buffer.concat(chunks).equals(readFileSync(fx.document)), "the downloaded file is the uploaded one");
  facts.downloaded = download.suggestedFilename();
  // The link works for Kim only: the same URL without its signature is refused.
  // A link that expired while the page stayed open: the client gets a fresh one first.
  await K.page.evaluate(() => {
    const { files } = window.__privchat.store;
    for (const entry of files.urls.values()) if (entry.url) entry.until = 0;
    document.querySelector("a.download").href = "http://127.0.0.1:1/expired";
  });
  const [again] = await Promise.all([K.page.waitForEvent("download"), card.getByRole("link", { name: "Download notes.txt" }).click()]);
  check(again.url().includes("/api/app/files/") && !again.url().includes("expired"), `downloaded again with a fresh link: ${again.url()}`);
  const href = await card.getByRole("link").getAttribute("href");
  const unsigned = new URL(href);
  unsigned.search = "";
  facts.unsignedStatus = (await fetch(unsigned)).status;
  check([401, 404].includes(facts.unsignedStatus), `no download without the signed link or a token: ${facts.unsignedStatus}`);
  phase("file downloaded");

  // The network fails during an upload (every PATCH cut): after tus's own retries (19 s)
  // the message fails; Retry continues the same upload (a tus HEAD for the offset, no new
  // upload), and the photo is sent.
  let outage = true;
  const tusRequests = [];
  const cut = (route) => {
    tusRequests.push(route.request().method());
    if (outage && route.request().method() === "PATCH") return route.abort("internetdisconnected");
    return route.fallback();
  };
  await J.context.route("**/api/app/files/tus/**", cut);
  await chooseFiles(J, J.page.getByRole("button", { name: "Attach a photo or file" }), fx.photo);
  await J.page.locator(".msg.pending.failed").waitFor({ timeout: 40_000 });
  facts.uploadFailure = await J.page.locator(".msg.pending.failed .send-error").textContent();
  outage = false;
  const beforeRetry = tusRequests.length;
  await J.page.locator(".msg.pending.failed").getByRole("button", { name: "Retry" }).click();
  await J.page.locator(".msg.pending").waitFor({ state: "detached", timeout: TIMEOUT });
  await J.context.unroute("**/api/app/files/tus/**", cut);
  const retried = tusRequests.slice(beforeRetry);
  facts.resumeRequests = retried;
  check(retried[0] === "HEAD" && !retried.includes("POST") && retried.includes("PATCH"), `Retry resumed the same upload: ${retried}`);
  await K.page.locator(".msg:not(.pending) .image-message").nth(1).waitFor({ timeout: TIMEOUT });
  phase("upload resumed");

  // Cancel: a second photo, stopped halfway; nothing is sent.
  const before = await messageCount(K);
  await throttleUploads(J, 100 * 1024);
  await chooseFiles(J, J.page.getByRole("button", { name: "Attach a photo or file" }), fx.photo);
  await J.page.locator(".msg.pending progress").waitFor({ timeout: TIMEOUT });
  await J.page.waitForTimeout(500);
  // Cancelling stops the transfer and terminates the upload (tus DELETE), so the partial
  // file stops counting against the quota. The server may answer 423 while it is still
  // finishing the interrupted PATCH: the client retries, and Chromium logs the 423.
  const cancelErrorsBefore = J.problems.length;
  const cancelRequests = [];
  const onCancelResponse = (r) => { if (r.url().includes("/api/app/files/tus/")) cancelRequests.push(`${r.request().method()} ${r.status()}`); };
  J.page.on("response", onCancelResponse);
  await J.page.getByRole("button", { name: /^Cancel the upload of/ }).click();
  await J.page.locator(".msg.pending").waitFor({ state: "detached", timeout: TIMEOUT });
  await throttleUploads(J, -1);
  for (let i = 0; i < 50 && !cancelRequests.includes("DELETE 204"); i++) await J.page.waitForTimeout(100);
  J.page.off("response", onCancelResponse);
  facts.cancelRequests = cancelRequests;
  check(cancelRequests.includes("DELETE 204"), `the upload was terminated: ${cancelRequests}`);
  const cancelLogged = J.problems.splice(cancelErrorsBefore);
  check(cancelLogged.every((p) => /status of 423/.test(p.text)), `only busy answers were logged: ${JSON.stringify(cancelLogged)}`);

  // Bad input: too large, an image format the server refuses, bytes that are not what the
  // name says. A clear message each time, and nothing sent.
  const attach = J.page.getByRole("button", { name: "Attach a photo or file" });
  await chooseFiles(J, attach, { name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(fx.maxUpload + 1, 7) });
  await J.page.locator(".notice", { hasText: "huge.bin" }).filter({ hasText: "at most" }).waitFor({ timeout: TIMEOUT });
  check(await J.page.locator(".msg.pending").count() === 0, "nothing queued for a file over the limit");
  await chooseFiles(J, attach, { name: "scan.bmp", mimeType: "image/bmp", buffer: Buffer.from("BM fake bitmap") });
  await J.page.locator(".notice", { hasText: "scan.bmp" }).filter({ hasText: "JPEG, PNG, GIF or WebP" }).waitFor({ timeout: TIMEOUT });
  // The server refuses these bytes (HTTP 400 on the last PATCH), which Chromium logs as a
  // console error: expected here, and only here.
  const errorsBefore = J.problems.length;
  const refusedRequests = [];
  const onResponse = (r) => { if (r.status() >= 400) refusedRequests.push(`${r.request().method()} ${r.status()}`); };
  J.page.on("response", onResponse);
  await chooseFiles(J, attach, { name: "fake.png", mimeType: "image/png", buffer: Buffer.from("this is text, not a picture") });
  const refused = J.page.locator(".msg.pending.failed");
  await refused.waitFor({ timeout: TIMEOUT });
  facts.refusedBytes = await refused.locator(".send-error").textContent();
  check(/not image\/png|bytes are/.test(facts.refusedBytes), `the server's reason is shown: ${facts.refusedBytes}`);
  await refused.getByRole("button", { name: "Discard" }).click();
  J.page.off("response", onResponse);
  facts.refusedRequests = refusedRequests;
  const logged = J.problems.splice(errorsBefore);
  check(refusedRequests.length >= 1 && refusedRequests.every((r) => r.endsWith(" 400")) && logged.length === refusedRequests.length
    && logged.every((p) => /status of 400/.test(p.text)), `only the refusal was logged: ${JSON.stringify({ refusedRequests, logged })}`);
  // A file dropped on the chat is sent like an attached one.
  await J.page.locator(".chat").evaluate((chat) => {
    const data = new DataTransfer();
    data.items.add(new File(["dropped on the chat"], "dropped.txt", { type: "text/plain" }));
    chat.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
    chat.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await K.page.locator(".msg:not(.pending) .file-message", { hasText: "dropped.txt" }).waitFor({ timeout: TIMEOUT });
  await sendText(J, "after the refusals");
  await waitMessage(K, "after the refusals");
  check(await messageCount(K) === before + 2, `nothing but the dropped file and the text was sent (${before} -> ${await messageCount(K)})`);
  phase("cancel and refusals");

  // A sticker: Kim adds the published pack to her collection and sends one.
  await K.page.getByRole("button", { name: "Stickers" }).click();
  await K.page.getByRole("button", { name: "Find sticker packs" }).click();
  await K.page.getByRole("button", { name: "Add Cats" }).click();
  const pick = K.page.getByRole("button", { name: "Send sticker 😺 from Cats" });
  await pick.waitFor({ timeout: TIMEOUT });
  await axe(K, "stickers-phone");
  await shot(K, "stickers-phone.png");
  // Escape closes the panel (back on its button); open it again and send.
  await pick.focus();
  await K.page.keyboard.press("Escape");
  await pick.waitFor({ state: "detached", timeout: TIMEOUT });
  check(await K.page.evaluate(() => document.activeElement?.classList.contains("stickers")), "focus back on the stickers button");
  await K.page.keyboard.press("Enter");
  await pick.click();
  const sticker = J.page.locator(".msg:not(.pending) img.sticker[alt='Sticker 😺']");
  await sticker.waitFor({ timeout: TIMEOUT });
  await J.page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await sticker.elementHandle(), { timeout: TIMEOUT });
  phase("sticker");

  // Avatars: Jo sets a photo (a text file is refused first); Kim sees it in her list and the chat.
  await J.page.locator("a.whoami").click();
  const change = J.page.getByRole("button", { name: "Change your photo" });
  await chooseFiles(J, change, { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a picture") });
  await J.page.locator(".form-error", { hasText: "cannot be a photo" }).waitFor({ timeout: TIMEOUT });
  await chooseFiles(J, change, fx.avatar);
  await J.page.locator(".topbar .avatar img.avatar-photo").waitFor({ timeout: TIMEOUT });
  await axe(J, "profile");
  await shot(J, "profile-desktop.png");
  // Kim is told at once (UserProfileChangedEvent), no reload: the header of her open chat
  // with Jo and her conversation list (behind the chat on a phone) show the photo.
  await K.page.locator(".chat-header .avatar img.avatar-photo").waitFor({ timeout: TIMEOUT });
  await conv(K, "Jo").locator(".avatar img.avatar-photo").waitFor({ state: "attached", timeout: TIMEOUT });
  await K.page.waitForFunction(() => [...document.querySelectorAll(".avatar-photo")].every((img) => img.complete && img.naturalWidth > 0), null, { timeout: TIMEOUT });
  phase("avatar");

  // A voice message (sent by another of Jo's apps): Kim gets a player, which loads the
  // sound through the files door (the page's media-src allows it; Range lets it seek).
  const voice = await apiUpload(joApi, fx.voice, "audio/wav", "MESSAGE");
  const kimChat = await conv(K, "Jo").getAttribute("data-channel-id");
  await H.gql(base, `mutation($c: ID!, $f: String!) { messageSend(input: {channelId: $c, clientMsgId: "joan-voice-1", content: {audio: {fileId: $f, durationMs: 1500}}}) { message { id } } }`,
    { c: kimChat, f: voice }, joApi.token);
  const player = K.page.locator(".msg:not(.pending) .media-message audio[aria-label='Voice message, 0:02']");
  await player.waitFor({ timeout: TIMEOUT });
  await K.page.waitForFunction((el) => el.readyState >= 1 && el.duration > 1, await player.elementHandle(), { timeout: TIMEOUT });
  facts.voiceSeconds = await player.evaluate((el) => el.duration);
  const voiceCard = await player.locator("xpath=..").evaluate((el) => el.outerHTML);
  check(/aria-label="Download Voice message"/.test(voiceCard), `the voice message can be downloaded too: ${voiceCard}`);
  phase("voice message");

  // A group's photo: the owner may change it, a member may not; members see it live.
  const group = await H.gql(base, `mutation($n: String!, $m: [ID!]!) { groupGroupCreate(input: {name: $n, memberIds: $m}) { group { id } } }`,
    { n: "Photos", m: [kimApi.id] }, joApi.token);
  const groupId = group.groupGroupCreate.group.id;
  await conv(J, "Photos").waitFor({ timeout: TIMEOUT });
  await J.page.goto(`${base}/app/#/c/${groupId}/info`);
  await H.waitLive(J.page);
  await chooseFiles(J, J.page.getByRole("button", { name: "Change the group's photo" }), fx.avatar);
  // Live (the group's settings event): Kim, in her chat with Jo, has it in her list at once.
  await conv(K, "Photos").locator(".avatar img.avatar-photo").waitFor({ state: "attached", timeout: TIMEOUT });
  await K.page.goto(`${base}/app/#/c/${groupId}/info`);
  await K.page.locator(".members li").nth(1).waitFor({ timeout: TIMEOUT });
  check(await K.page.getByRole("button", { name: "Change the group's photo" }).count() === 0, "a member cannot change the group's photo");
  // In the group's chat, Jo's messages carry her photo.
  await H.apiSend(base, joApi, groupId, "photos from the trip soon", "joan-group-1");
  await K.page.getByRole("link", { name: "Back to the chat" }).click();
  await K.page.locator(".msg", { hasText: "photos from the trip soon" }).locator(".sender .avatar img.avatar-photo").waitFor({ timeout: TIMEOUT });
  phase("group photo");

  // The chat with the attachments, for the docs.
  await J.page.goto(`${base}/app/#/c/${await conv(J, "Kim").getAttribute("data-channel-id")}`);
  await H.waitLive(J.page);
  await J.page.locator(".msg:not(.pending) .image-message img.thumb:not(.loading)").first().waitFor({ timeout: TIMEOUT });
  await J.page.waitForFunction(() => [...document.querySelectorAll(".chat img")].every((img) => img.complete && img.naturalWidth > 0), null, { timeout: TIMEOUT });
  await J.page.mouse.move(0, 0);
  await dismissNotice(J.page);
  await axe(J, "chat-attachments-desktop");
  await shot(J, "attachments-desktop.png");
  await K.page.goto(`${base}/app/#/c/${await conv(K, "Jo").getAttribute("data-channel-id")}`);
  await H.waitLive(K.page);
  await K.page.waitForFunction(() => [...document.querySelectorAll(".chat img")].every((img) => img.complete && img.naturalWidth > 0), null, { timeout: TIMEOUT });
  await axe(K, "chat-attachments-phone");
  await shot(K, "attachments-phone.png");
}

const SCENARIOS = { "two-users": twoUsers, group, devices, session, files: filesScenario };

async function main() {
  const scenario = SCENARIOS[scenarioName];
  if (!scenario || !base) throw new Error(`usage: web_client.mjs <${Object.keys(SCENARIOS).join("|")}> '{"baseUrl": ...}'`);
  const browser = await H.launch();
  let result;
  try {
    await scenario(browser);
    const problems = opened.flatMap((d) => d.problems);
    const csp = (await Promise.all(opened.map((d) => d.cspViolations().catch(() => [])))).flat();
    result = { ok: problems.length === 0 && csp.length === 0, problems, csp, facts };
    if (!result.ok) result.error = "console errors, page errors, CSP violations or foreign requests";
  } catch (err) {
    for (const d of opened) await d.page.screenshot({ path: join(artifacts, `failure-${d.name}.png`) }).catch(() => {});
    result = { ok: false, error: String(err?.stack || err), problems: opened.flatMap((d) => d.problems), facts };
  } finally {
    await browser.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  stdin.close();
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack || err) }) + "\n");
  process.exit(2);
});

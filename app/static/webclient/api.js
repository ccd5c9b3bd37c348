// The GraphQL door, as a browser uses it: queries and mutations over HTTP (POST /graphql),
// the `events` stream over WebSocket (graphql-transport-ws, with the vendored graphql-ws
// client). Also the device session: login, register, silent refresh of the short-lived
// access token, logout. Nothing here knows about chats: see sync.js and store.js.
import { createClient } from "./vendor/graphql-ws.js";

/** A failed GraphQL operation, with the server's stable code (extensions.code). */
export class ApiError extends Error {
  constructor(message, code, { retryable = false, field = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.retryable = retryable; // a network failure or a 5xx: the same request may succeed later
    this.field = field;
  }
}

// Codes after which the device must log in again (the refresh token cannot help).
const SESSION_LOST = new Set(["SESSION_REVOKED"]);
// Codes after which a fresh access token may help.
const TOKEN_PROBLEM = new Set(["TOKEN_EXPIRED", "UNAUTHENTICATED"]);
const REFRESH_MARGIN_MS = 30_000;
const STORAGE_KEY = "privchat.session";
const DEVICE_KEY = "privchat.deviceId";

/** "Chrome on Linux": the name other devices see for this one in the device list. */
export function browserDeviceName(nav = navigator) {
  const ua = nav.userAgent || "";
  const browser =
    (/Edg\//.test(ua) && "Edge") || (/Firefox\//.test(ua) && "Firefox") ||
    (/Chrom(e|ium)\//.test(ua) && "Chrome") || (/Safari\//.test(ua) && "Safari") || "Browser";
  const platform = nav.userAgentData?.platform ||
    (/Android/.test(ua) && "Android") || (/iPhone|iPad/.test(ua) && "iOS") ||
    (/Mac OS X/.test(ua) && "macOS") || (/Windows/.test(ua) && "Windows") ||
    (/Linux/.test(ua) && "Linux") || "";
  return platform ? `${browser} on ${platform}` : browser;
}

function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
  /**
   * @param {object} o
   * @param {string} o.graphqlPath  root-relative path of the GraphQL endpoint
   * @param {Storage} [o.storage]   where the session lives. sessionStorage by default: each
   *   tab is its own device (own device id, own pts positions), as a second phone would be.
   * @param {(reason: string) => void} [o.onSessionLost]  the session ended (revoked, logged out elsewhere)
   */
  constructor({ graphqlPath, storage = window.sessionStorage, onSessionLost = () => {} }) {
    this.url = new URL(graphqlPath, window.location.href).href;
    this.wsUrl = this.url.replace(/^http/, "ws");
    this.storage = storage;
    this.onSessionLost = onSessionLost;
    this.session = JSON.parse(storage.getItem(STORAGE_KEY) || "null");
    this.refreshing = null;
  }

  get deviceId() {
    let id = this.storage.getItem(DEVICE_KEY);
    if (!id) {
      id = randomId("web-");
      this.storage.setItem(DEVICE_KEY, id);
    }
    return id;
  }

  get user() {
    return this.session?.user ?? null;
  }

  saveSession(session) {
    this.session = session;
    if (session) this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    else this.storage.removeItem(STORAGE_KEY);
  }

  // -- HTTP ---------------------------------------------------------------------------

  /** One operation over HTTP, without a token. Throws ApiError. */
  async post(query, variables = {}, token = null) {
    const headers = {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
    };
    if (token) headers.authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(this.url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    } catch (err) {
      throw new ApiError("The server cannot be reached", "NETWORK", { retryable: true });
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      throw new ApiError(`The server answered ${response.status}`, "NETWORK", { retryable: response.status >= 500 });
    }
    if (body.errors?.length) {
      const first = body.errors[0];
      const ext = first.extensions || {};
      throw new ApiError(first.message, ext.code || "INTERNAL", {
        retryable: response.status >= 500 || ext.code === "INTERNAL" || ext.code === "RATE_LIMITED",
        field: ext.field ?? null,
      });
    }
    return body.data;
  }

  /** One operation as the logged-in device; the access token is refreshed when needed. */
  async request(query, variables = {}) {
    // No await when the token is fresh: the request leaves in this very task.
    const token = this.session && Date.now() <= this.session.expiresAt - REFRESH_MARGIN_MS
      ? this.session.accessToken
      : await this.accessToken();
    try {
      return await this.post(query, variables, token);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (SESSION_LOST.has(err.code)) {
        this.loseSession("This device was logged out from another device.");
        throw err;
      }
      if (TOKEN_PROBLEM.has(err.code) && this.session) {
        await this.refresh(true);
        return this.post(query, variables, this.session?.accessToken);
      }
      throw err;
    }
  }

  /** A valid access token (refreshed first when it is about to expire), or null. */
  async accessToken() {
    if (!this.session) return null;
    if (Date.now() > this.session.expiresAt - REFRESH_MARGIN_MS) await this.refresh(false);
    return this.session?.accessToken ?? null;
  }

  /** Exchange the refresh token (once, however many requests ask at the same time). */
  refresh(force) {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh(force).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async doRefresh(force) {
    const session = this.session;
    if (!session) return;
    if (!force && Date.now() <= session.expiresAt - REFRESH_MARGIN_MS) return;
    try {
      const data = await this.post(
        `mutation Refresh($t: String!) { accountAuthRefresh(input: {refreshToken: $t}) { accessToken refreshToken expiresIn } }`,
        { t: session.refreshToken },
      );
      const r = data.accountAuthRefresh;
      this.saveSession({ ...session, accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: Date.now() + r.expiresIn * 1000 });
    } catch (err) {
      if (err instanceof ApiError && !err.retryable) {
        this.loseSession(
          err.code === "SESSION_REVOKED"
            ? "This device was logged out from another device."
            : "Your session has ended. Please log in again.",
        );
      }
      throw err;
    }
  }

  loseSession(reason) {
    if (!this.session) return;
    this.saveSession(null);
    this.onSessionLost(reason);
  }

  // -- account --------------------------------------------------------------------------

  async register({ username, password, displayName }) {
    await this.post(
      `mutation Register($u: String!, $p: String!, $n: String) {
         accountUserRegister(input: {username: $u, password: $p, displayName: $n}) { user { id } } }`,
      { u: username, p: password, n: displayName || null },
    );
    return this.login({ username, password });
  }

  async login({ username, password }) {
    const data = await this.post(
      `mutation Login($u: String!, $p: String!, $d: String!, $n: String) {
         accountAuthLogin(input: {username: $u, password: $p, deviceId: $d, deviceName: $n, platform: "web"}) {
           accessToken refreshToken expiresIn user { id username displayName avatarFileId } } }`,
      { u: username, p: password, d: this.deviceId, n: browserDeviceName() },
    );
    const r = data.accountAuthLogin;
    this.saveSession({
      accessToken: r.accessToken,
      refreshToken: r.refreshToken,
      expiresAt: Date.now() + r.expiresIn * 1000,
      user: r.user,
    });
    return r.user;
  }

  async logout() {
    try {
      await this.request(`mutation Logout { accountAuthLogout { ok } }`);
    } finally {
      this.saveSession(null);
    }
  }

  // -- WebSocket --------------------------------------------------------------------------

  /**
   * The graphql-ws client for the `events` stream. It reconnects by itself (with backoff)
   * after a network drop or a server restart; `on` receives its lifecycle events
   * (connecting, connected, closed), which drive the sync (see sync.js).
   */
  socket(on) {
    return createClient({
      url: this.wsUrl,
      lazy: false,
      keepAlive: 10_000,
      retryAttempts: Infinity,
      // Retry whatever closed the socket, except a refused session (handled by `closed`).
      shouldRetry: (event) => !(event && typeof event.code === "number" && [4401, 4403].includes(event.code) && !this.session),
      retryWait: async (retries) => {
        const ms = Math.min(300 * 2 ** retries, 5_000);
        await new Promise((resolve) => setTimeout(resolve, ms * (0.75 + Math.random() / 2)));
        // No point dialling while the browser knows it has no network: wait for it.
        if (!navigator.onLine) await new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
      },
      connectionParams: async () => {
        const token = await this.accessToken().catch(() => this.session?.accessToken);
        return token ? { authorization: `Bearer ${token}` } : {};
      },
      on,
    });
  }
}

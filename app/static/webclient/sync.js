// The sync algorithm of docs/SYNC.md, on the GraphQL door. Read this file to write a
// client: it is the whole of "never lose a message, never show one twice or out of order".
//
// Two counters: per channel the last `pts` applied (`channelPts`), for the user the last
// `seq` applied. Every connection (the first one, and each reconnect after a network drop
// or a server restart) runs the same steps:
//
//   1. open the `events` subscription with `holdUntilReady: true` (the server holds live
//      events for this device from now on: nothing can fall between the sync and them);
//   2. catch up: channels whose pts moved (`syncBatchGetChannelPts`), their events
//      (`syncGetDifference`, paged), the user updates (`syncGetUpdates`, paged);
//   3. `syncSessionReady`: the held events flow, then live ones.
//
// Every event then goes through the gap rule, one at a time in arrival order:
//   pts <= local      already applied (the catch-up got there first): ignore;
//   pts == local + 1  apply, local = pts;
//   pts >  local + 1  something is missing: fetch the difference from local (it includes
//                     this event) and apply it.
// User updates follow the same rule with `seq` and `syncGetUpdates`.
//
// So the store sees each channel event exactly once and in pts order, whatever the
// network did: that is what keeps unread counts right and a chat free of duplicates.
import * as Q from "./queries.js";
import { ApiError } from "./api.js";

const UPDATES_PAGE = 100;
const SYNC_RETRY_MS = 2000;
const PONG_TIMEOUT_MS = 5000; // a socket that does not answer a ping is dead (a dropped network)
const RESTART_MS = 3000;
const SETTLE_MS = 2000;

/** Thrown inside a sync that a newer connection made pointless. */
class Superseded extends Error {}

export class SyncEngine {
  /**
   * @param {import("./api.js").Api} api
   * @param {import("./store.js").Store} store
   */
  constructor(api, store) {
    this.api = api;
    this.store = store;
    this.channelPts = new Map(); // channelId -> last pts applied
    this.seq = null; // last user update applied; null until the first sync
    this.syncTime = 0; // `changedSince` of the next catch-up (the server's syncTime)
    this.generation = 0; // one per connection; a sync of an older one stops
    this.caughtUp = Promise.resolve(); // live events wait for the current catch-up
    this.inbox = Promise.resolve(); // live events, applied one after another
    this.client = null;
    this.stopped = false;
  }

  start() {
    this.client = this.api.socket({
      connecting: () => this.store.setStatus(this.seq === null ? "connecting" : "reconnecting"),
      connected: () => this.onConnected(),
      closed: (event) => this.onClosed(event),
      // A network that vanished does not close the socket by itself: a ping without
      // a pong does, and graphql-ws then reconnects (and we catch up).
      ping: (received) => {
        if (!received) this.pongTimer = setTimeout(() => this.dropConnection(), PONG_TIMEOUT_MS);
      },
      pong: (received) => {
        if (received) clearTimeout(this.pongTimer);
      },
    });
    // graphql-ws re-subscribes by itself on every new socket: step 1 of each connection.
    this.unsubscribe = this.client.subscribe(
      { query: Q.EVENTS },
      {
        next: (result) => this.onLive(result),
        error: (err) => this.onStreamError(err),
        complete: () => this.restartLater(),
      },
    );
  }

  stop() {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.pongTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.settleTimer);
    this.unsubscribe?.();
    this.client?.dispose();
  }

  /** The browser went offline, or the socket stopped answering: close it now (it retries). */
  dropConnection() {
    clearTimeout(this.pongTimer);
    this.client?.terminate();
  }

  /** graphql-ws gave up on this stream (a close it deems final): start a new client. */
  restartLater() {
    if (this.stopped) return;
    this.generation++;
    this.store.setStatus("reconnecting");
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.unsubscribe?.();
      this.client?.dispose();
      this.start(); // keeps channelPts and seq: the next catch-up resumes from them
    }, RESTART_MS);
  }

  // -- connection lifecycle -----------------------------------------------------------------

  onConnected() {
    const generation = ++this.generation;
    this.store.setStatus("syncing");
    // Live events that arrive meanwhile wait until this catch-up is done.
    this.caughtUp = this.catchUp(generation);
  }

  async catchUp(generation) {
    for (;;) {
      try {
        if (this.seq === null) await this.initialSync(generation);
        else await this.resumeSync(generation);
        this.check(generation);
        await this.api.request(Q.SESSION_READY); // step 3: release the held events
        this.check(generation);
        this.store.setStatus("live");
        this.settleLater(generation);
        this.store.retryOutbox();
        this.store.watchPresence({ reconnected: true }).catch(() => {});
        // Back after a drop: names and photos may have changed meanwhile (not announced).
        if (generation > 1) this.store.refreshUsers([...this.store.state.conversations.values()].map((c) => c.peerId));
        return;
      } catch (err) {
        if (err instanceof Superseded || this.stopped) return;
        if (err instanceof ApiError && !err.retryable) {
          this.store.report(err);
          if (!this.api.session) return;
        }
        // The server is restarting or the network flickers: the socket will usually drop
        // too (and a new connection start over); if it does not, try again.
        await new Promise((resolve) => setTimeout(resolve, SYNC_RETRY_MS));
        if (generation !== this.generation) return;
      }
    }
  }

  /**
   * One more catch-up a moment after going live. The server registers the subscription in
   * its own task, so our first reads may have overtaken it: an event committed between
   * such a read and the registration would reach us neither way until the next event of
   * its channel showed the gap. syncTime lies a minute back, so this cheap pass sees it.
   */
  settleLater(generation) {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.inbox = this.inbox
        .then(() => generation === this.generation && this.resumeSync(generation))
        .catch(() => {}); // a failure here is healed by the next connection or gap
    }, SETTLE_MS);
  }

  check(generation) {
    if (generation !== this.generation || this.stopped) throw new Superseded();
  }

  onClosed(event) {
    if (this.stopped) return;
    this.generation++; // a sync in flight belongs to the dead socket
    this.store.setStatus("reconnecting");
    // 4401/4403: the server refused the token. A fresh one may do; if the refresh token is
    // refused too, the api drops the session and the app shows the login screen.
    if (event && (event.code === 4401 || event.code === 4403)) this.api.refresh(true).catch(() => {});
  }

  onStreamError(err) {
    const errors = Array.isArray(err) ? err : [];
    const code = errors[0]?.extensions?.code;
    if (code === "SESSION_REVOKED" || code === "UNAUTHENTICATED") {
      this.api.loseSession(this.revokedReason || "This device was logged out from another device.");
    } else {
      this.restartLater();
    }
  }

  // -- step 2: catching up ---------------------------------------------------------------------

  /** First connection of this page: the conversation list is the starting point. */
  async initialSync(generation) {
    // The user's seq before anything is read: updates after it are held for us (step 1).
    const head = await this.api.request(Q.SYNC_UPDATES, { since: 0, limit: 1 });
    this.check(generation);
    // Each conversation's pts is read with its summary (last message, unread count), so
    // the events after it are exactly those the summary does not include yet.
    const listed = await this.store.loadConversations();
    this.check(generation);
    for (const [channelId, pts] of listed) this.channelPts.set(channelId, pts);
    // Channels not in the list (hidden ones) still need a position for the gap rule.
    await this.forEachChangedChannel(0, generation, async ({ channelId, pts }) => {
      if (!this.channelPts.has(channelId)) this.channelPts.set(channelId, pts);
    });
    this.seq = head.syncGetUpdates.seq;
  }

  /** A reconnect: fetch what happened while we were away. */
  async resumeSync(generation) {
    await this.forEachChangedChannel(this.syncTime, generation, async ({ channelId, pts }) => {
      const local = this.channelPts.get(channelId);
      if (local === undefined) await this.adoptChannel(channelId);
      else if (pts > local) await this.fetchDifference(channelId, generation);
    });
    await this.fetchUpdates(generation);
  }

  /** `syncBatchGetChannelPts` pages; remembers the server's syncTime for next time. */
  async forEachChangedChannel(changedSince, generation, fn) {
    let cursor = null;
    let syncTime;
    do {
      const data = await this.api.request(Q.SYNC_CHANNEL_PTS, { since: changedSince, cursor });
      this.check(generation);
      const page = data.syncBatchGetChannelPts;
      for (const row of page.channels) await fn(row);
      cursor = page.nextCursor;
      syncTime = page.syncTime;
    } while (cursor);
    this.syncTime = syncTime;
  }

  /** Apply a channel's events after our pts, page by page, in order. */
  async fetchDifference(channelId, generation = this.generation) {
    for (;;) {
      const fromPts = this.channelPts.get(channelId) ?? 0;
      let data;
      try {
        data = await this.api.request(Q.SYNC_DIFFERENCE, { channelId, fromPts });
      } catch (err) {
        if (err instanceof ApiError && (err.code === "NOT_FOUND" || err.code === "FORBIDDEN")) {
          this.channelPts.delete(channelId); // we are no longer a member
          this.store.forgetConversation(channelId);
          return;
        }
        throw err;
      }
      this.check(generation);
      const diff = data.syncGetDifference;
      if (diff.tooLong) {
        // More missed than the server keeps for a difference: start the chat afresh.
        this.channelPts.set(channelId, diff.pts);
        await this.store.refreshConversation(channelId);
        this.store.resetTimeline(channelId);
        return;
      }
      for (const event of diff.events) {
        if (event.pts > (this.channelPts.get(channelId) ?? 0)) {
          this.channelPts.set(channelId, event.pts);
          this.store.applyChannelEvent(event);
        }
      }
      // Events we may not see (before we joined) leave holes: nextFromPts skips them.
      this.channelPts.set(channelId, Math.max(this.channelPts.get(channelId) ?? 0, diff.nextFromPts));
      if (diff.isFinal) return;
    }
  }

  /** A channel we have no position for (new to us): its summary now, its events from here. */
  async adoptChannel(channelId) {
    try {
      const conv = await this.store.refreshConversation(channelId);
      if (!this.channelPts.has(channelId)) this.channelPts.set(channelId, conv.pts);
    } catch (err) {
      if (!(err instanceof ApiError) || err.retryable) throw err;
      // Not ours to see (left it meanwhile): ignore its events.
    }
  }

  /** Apply the user updates after our seq, page by page. */
  async fetchUpdates(generation = this.generation) {
    for (;;) {
      const data = await this.api.request(Q.SYNC_UPDATES, { since: this.seq, limit: UPDATES_PAGE });
      this.check(generation);
      const page = data.syncGetUpdates;
      for (const update of page.updates) {
        if (update.seq > this.seq) {
          this.seq = update.seq;
          await this.store.applyUserUpdate(update);
        }
      }
      if (!page.hasMore) {
        this.seq = Math.max(this.seq, page.seq);
        return;
      }
    }
  }

  // -- live events: the gap rule ---------------------------------------------------------------

  onLive(result) {
    const event = result.data?.events;
    if (!event) return;
    this.inbox = this.inbox
      .then(() => this.caughtUp)
      .then(() => this.dispatch(event))
      .catch((err) => {
        // A failed gap fill: the next connection's catch-up (or the next event's gap) heals it.
        if (!(err instanceof Superseded)) console.warn("privchat: live event not applied", err); // eslint-disable-line no-console
      });
  }

  async dispatch(event) {
    if (event.seq !== undefined && event.seq !== null) return this.onUserUpdate(event);
    if (event.pts !== undefined && event.pts !== null) return this.onChannelEvent(event);
    switch (event.__typename) {
      case "TypingEvent": return this.store.applyTyping(event);
      case "PresenceEvent": return this.store.applyPresence(event);
      case "GroupReadEvent": return this.store.applyPeerRead(event.channelId, event.upToPts);
      case "ResyncRequiredEvent":
        // The server dropped live events for us (we read too slowly): catch up again.
        return this.resumeSync(this.generation);
      default: return undefined;
    }
  }

  async onChannelEvent(event) {
    const { channelId, pts } = event;
    if (!this.channelPts.has(channelId)) {
      await this.adoptChannel(channelId);
      if (!this.channelPts.has(channelId)) return;
    }
    const local = this.channelPts.get(channelId);
    if (pts <= local) return; // already applied
    if (pts === local + 1) {
      this.channelPts.set(channelId, pts);
      this.store.applyChannelEvent(event);
      return;
    }
    await this.fetchDifference(channelId); // a gap: the difference includes this event
  }

  async onUserUpdate(update) {
    if (update.seq <= this.seq) return;
    if (update.seq === this.seq + 1) {
      this.seq = update.seq;
      await this.store.applyUserUpdate(update);
      if (update.__typename === "SessionRevokedEvent") this.checkRevoked(update);
      return;
    }
    await this.fetchUpdates();
  }

  checkRevoked(update) {
    // The stream ends with SESSION_REVOKED when the revoked session is ours; this event
    // says why, just before.
    if (update.reason) this.revokedReason = `This device was logged out (${update.reason}).`;
  }
}

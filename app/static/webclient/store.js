// The client's state and the rules that change it. Components read `store.state` and
// re-render when `store.subscribe` says it changed; every change goes through a method
// here, so the effect of each server event is written once.
//
// Channel events reach `applyChannelEvent` exactly once and in pts order (sync.js
// guarantees it), which is what makes counting unread messages here correct.
import * as Q from "./queries.js";
import { ApiError } from "./api.js";
import { Files, attachmentKind, fileProblem } from "./files.js";

const OUTBOX_KEY = "privchat.outbox";
const HISTORY_PAGE = 50;
const USER_BATCH = 25; // aliases per user lookup (the server allows 30)

/** Plain-text preview of a message for the conversation list and replies. */
export function messagePreview(message) {
  if (!message) return "";
  if (message.revoked) return "Message recalled";
  const c = message.content;
  switch (c?.__typename) {
    case "TextContent": return c.text;
    case "SystemContent": return c.text;
    case "ImageContent": return c.caption ? `Photo: ${c.caption}` : "Photo";
    case "FileContent": return `File: ${c.name}`;
    case "AudioContent": return "Voice message";
    case "VideoContent": return "Video";
    case "LocationContent": return `Location${c.title ? `: ${c.title}` : ""}`;
    case "CardContent": return "Contact card";
    case "StickerContent": return c.emoji ? `Sticker ${c.emoji}` : "Sticker";
    default: return "Message";
  }
}

function conversationFrom(c) {
  return {
    id: c.channel.id,
    kind: c.channel.kind,
    title: c.channel.title,
    avatarFileId: c.channel.avatarFileId,
    memberCount: c.channel.memberCount,
    pts: c.channel.pts,
    lastEventAt: Date.parse(c.channel.lastEventAt),
    peerId: c.peerId,
    lastMessage: c.lastMessage,
    preview: c.lastMessage ? messagePreview(c.lastMessage) : c.preview || "",
    unreadCount: c.unreadCount,
    readPts: c.readPts,
    mentioned: c.mentioned,
    muted: c.muted,
    pinned: c.pinned,
  };
}

/** The content a queued message is sent with. */
function contentOf(item) {
  if (item.sticker) return { sticker: { packageId: item.sticker.packageId, stickerId: item.sticker.stickerId } };
  if (item.upload === "image") return { image: { fileId: item.fileId } };
  if (item.upload === "file") {
    return { file: { fileId: item.fileId, name: item.name || "file", size: item.size, mimeType: item.mime } };
  }
  return { text: { text: item.text } };
}

function newTimeline() {
  // byPts: the messages loaded so far; `items` is their pts order (rebuilt on change).
  return { byPts: new Map(), items: [], oldestPts: null, hasMore: true, loading: false, loaded: false };
}

export class Store {
  constructor(api, { fileLimits = {} } = {}) {
    this.api = api;
    this.fileLimits = fileLimits;
    this.files = new Files(api, () => this.changed());
    this.uploads = new Map(); // clientMsgId -> {cancel, file} while its file is uploading
    this.usersRefreshed = new Map(); // userId -> when its profile was last read
    this.listeners = new Set();
    this.version = 0;
    this.scheduled = false;
    this.pendingUsers = new Set();
    this.sendChains = new Map();
    this.watched = new Set(); // users whose presence we asked for on this connection
    this.readTimers = new Map();
    this.state = {
      me: api.user,
      status: "connecting", // connecting | syncing | live | reconnecting
      online: navigator.onLine,
      conversations: new Map(),
      conversationsLoaded: false,
      users: new Map(),
      presence: new Map(),
      typing: new Map(), // channelId -> Map(userId -> expires ms)
      timelines: new Map(),
      outbox: new Map(JSON.parse(window.sessionStorage.getItem(OUTBOX_KEY) || "[]")),
      reactions: new Map(), // messageId -> [{emoji, count, reactedByMe}]
      peerRead: new Map(), // channelId -> highest pts another member read
      requests: { incoming: [], outgoing: [] },
      groups: new Map(),
      stickers: null, // the user's sticker packs, once asked for
      activeId: null,
      notice: null,
    };
    if (this.state.me) this.state.users.set(this.state.me.id, this.state.me);
  }

  // -- change notification ---------------------------------------------------------------

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Many changes in one task make one render. */
  changed() {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn(this.version);
    });
  }

  notify(text, kind = "error") {
    this.state.notice = { text, kind, at: Date.now() };
    this.changed();
  }

  report(err) {
    if (err instanceof ApiError) this.notify(err.message);
    else {
      console.warn(err); // eslint-disable-line no-console
      this.notify("Something went wrong. Please try again.");
    }
  }

  setStatus(status) {
    if (this.state.status !== status) {
      this.state.status = status;
      this.changed();
    }
  }

  // -- users -------------------------------------------------------------------------------

  rememberUser(user) {
    if (!user) return;
    const old = this.state.users.get(user.id);
    if (!old || old.displayName !== user.displayName || old.username !== user.username || old.avatarFileId !== user.avatarFileId) {
      this.state.users.set(user.id, { ...old, ...user });
      this.changed();
    }
  }

  /** A user's display name; unknown users are looked up (in batches) and shown meanwhile as "…". */
  userName(id) {
    if (id == null) return "";
    const user = this.state.users.get(id);
    if (user) return user.displayName || user.username;
    this.lookupUser(id);
    return "…";
  }

  /** The user changed their name or photo on this device: `fields` as the server answered. */
  setMyProfile(fields) {
    const id = this.state.me.id;
    this.state.me = { ...this.state.me, ...fields };
    this.state.users.set(id, { ...this.state.users.get(id), ...this.state.me });
    this.api.saveSession({ ...this.api.session, user: { ...this.api.session.user, ...fields } });
    this.changed();
  }

  /** The freshest we know of a user that a list (friends, requests) holds a copy of. */
  person(user) {
    return { ...user, ...this.state.users.get(user.id) };
  }

  /** A user we see changed their name or photo (or we did, on another device): every
   * place that shows them reads `state.users`, so they all follow. `u.profile` (username,
   * bio) is null when we may see only the name and photo. */
  applyProfileChange(u) {
    const fresh = { id: u.userId, displayName: u.displayName, avatarFileId: u.avatarFileId, ...(u.profile || {}) };
    this.state.users.set(u.userId, { ...this.state.users.get(u.userId), ...fresh });
    this.usersRefreshed.set(u.userId, Date.now());
    if (u.userId === this.state.me.id) this.setMyProfile({ displayName: u.displayName, avatarFileId: u.avatarFileId });
    else this.changed();
  }

  /** Read these users' profiles again, at most once a minute per user. Friends and members
   * of shared groups announce their changes (UserProfileChangedEvent); this covers the
   * others (a direct chat with someone who is neither). */
  refreshUsers(ids) {
    const now = Date.now();
    for (const id of ids) {
      if (id == null || now - (this.usersRefreshed.get(id) || 0) < 60_000) continue;
      this.usersRefreshed.set(id, now);
      this.lookupUser(id);
    }
  }

  lookupUser(id) {
    if (this.pendingUsers.has(id)) return;
    this.pendingUsers.add(id);
    if (this.pendingUsers.size === 1) setTimeout(() => this.fetchUsers(), 0);
  }

  async fetchUsers() {
    const ids = [...this.pendingUsers];
    for (let i = 0; i < ids.length; i += USER_BATCH) {
      const chunk = ids.slice(i, i + USER_BATCH);
      // One request for many users: an alias per user (accountUserDetail takes one id).
      const fields = chunk.map((id, n) => `u${n}: accountUserDetail(input: {userId: ${JSON.stringify(String(id))}}) { user { ...U } }`);
      try {
        const data = await this.api.request(`query Users { ${fields.join("\n")} }\n${Q.USER}`);
        for (const key of Object.keys(data)) this.rememberUser(data[key].user);
      } catch (err) {
        // A user we may not see (blocked, deleted): show them as unknown rather than retry forever.
        for (const id of chunk) if (!this.state.users.has(id)) this.state.users.set(id, { id, username: "unknown", displayName: "Unknown user" });
        this.changed();
      }
    }
    for (const id of ids) this.pendingUsers.delete(id);
  }

  // -- conversations -------------------------------------------------------------------

  /** The list as shown: pinned first, then by latest activity (as the server orders it). */
  conversationList() {
    const list = [...this.state.conversations.values()];
    list.sort((a, b) => (b.pinned - a.pinned) || (b.lastEventAt - a.lastEventAt) || (Number(b.id) - Number(a.id)));
    return list;
  }

  upsertConversation(raw) {
    const conv = conversationFrom(raw);
    this.state.conversations.set(conv.id, conv);
    if (conv.lastMessage) this.userName(conv.lastMessage.senderId);
    if (conv.peerId) {
      this.userName(conv.peerId);
      if (this.state.status === "live" && !this.watched.has(conv.peerId)) this.watchPresence().catch(() => {});
    }
    this.changed();
    return conv;
  }

  /** Load the whole conversation list (pages of 100); returns each channel's pts as read. */
  async loadConversations() {
    const seen = new Map();
    let cursor = null;
    do {
      const data = await this.api.request(Q.CHANNEL_LIST, { cursor });
      for (const raw of data.channelList.conversations) {
        const conv = this.upsertConversation(raw);
        seen.set(conv.id, conv.pts);
      }
      cursor = data.channelList.nextCursor;
      if (!this.state.conversationsLoaded) {
        this.state.conversationsLoaded = true; // the first page is on screen while the rest loads
        this.changed();
      }
    } while (cursor);
    // Conversations that disappeared meanwhile (left, hidden on another device).
    for (const id of [...this.state.conversations.keys()]) if (!seen.has(id)) this.state.conversations.delete(id);
    this.changed();
    return seen;
  }

  /** Re-read one conversation (a new channel, or one whose gap was too long to fetch). */
  async refreshConversation(channelId) {
    const data = await this.api.request(Q.CHANNEL_INFO, { id: channelId });
    return this.upsertConversation(data.channelInfo.conversation);
  }

  forgetConversation(channelId) {
    this.state.conversations.delete(channelId);
    this.state.timelines.delete(channelId);
    if (this.state.activeId === channelId) this.state.activeId = null;
    this.changed();
  }

  /** Drop what is loaded of a chat (its gap was too long): it reloads when shown. */
  resetTimeline(channelId) {
    this.state.timelines.delete(channelId);
    if (this.state.activeId === channelId) this.loadOlder(channelId);
    this.changed();
  }

  // -- channel events (exactly once, in pts order) -------------------------------------------

  applyChannelEvent(event) {
    const conv = this.state.conversations.get(event.channelId);
    if (conv) {
      conv.pts = Math.max(conv.pts, event.pts);
      conv.lastEventAt = Date.now();
    }
    switch (event.__typename) {
      case "MessageEvent": this.applyMessage(event.message, conv, true); break;
      case "MessageRevokedEvent":
        this.applyRevoke(event.channelId, event.messageId);
        // A recalled message no longer counts as unread: ask the server how many are left.
        if (conv?.unreadCount > 0) this.recountUnread([event.channelId]).catch(() => {});
        break;
      case "ReactionEvent": this.refreshReactions([event.messageId]); break;
      case "GroupMembersJoinedEvent":
      case "GroupMemberLeftEvent":
      case "GroupMemberRemovedEvent":
        this.refreshConversation(event.channelId).catch(() => {}); // its member count
        if (this.state.groups.has(event.channelId)) this.loadGroup(event.channelId).catch(() => {});
        break;
      case "GroupSettingsChangedEvent":
        this.refreshConversation(event.channelId).catch(() => {}); // its name or photo
        if (this.state.groups.has(event.channelId)) this.loadGroup(event.channelId).catch(() => {});
        break;
      case "GroupMemberRoleChangedEvent":
      case "GroupOwnerTransferredEvent":
      case "GroupMuteAllChangedEvent":
      case "GroupMemberMutedEvent":
        if (this.state.groups.has(event.channelId)) this.loadGroup(event.channelId).catch(() => {});
        break;
      default: break;
    }
    this.changed();
  }

  applyMessage(message, conv, counted) {
    const me = this.state.me.id;
    this.userName(message.senderId);
    const timeline = this.state.timelines.get(message.channelId);
    if (timeline) this.insertMessages(timeline, [message]);
    if (message.senderId === me) this.confirmSent(message.clientMsgId);
    if (!conv) return;
    if (!conv.lastMessage || conv.lastMessage.pts <= message.pts) {
      conv.lastMessage = message;
      conv.preview = messagePreview(message);
    }
    // Counted as the server counts: every message from someone else (system lines too).
    if (counted && message.senderId !== me && message.pts > conv.readPts) {
      conv.unreadCount += 1;
      if (message.mentionAll || message.mentions.includes(me)) conv.mentioned = true;
    }
    if (this.state.activeId === conv.id) this.scheduleRead(conv.id);
  }

  applyRevoke(channelId, messageId) {
    const timeline = this.state.timelines.get(channelId);
    if (timeline) {
      for (const m of timeline.byPts.values()) {
        if (m.id === messageId) {
          timeline.byPts.set(m.pts, { ...m, revoked: true, content: null });
          timeline.items = null;
        }
      }
    }
    const conv = this.state.conversations.get(channelId);
    if (conv?.lastMessage?.id === messageId) {
      conv.lastMessage = { ...conv.lastMessage, revoked: true, content: null };
      conv.preview = messagePreview(conv.lastMessage);
    }
  }

  // -- user updates (exactly once, in seq order) -----------------------------------------

  async applyUserUpdate(u) {
    switch (u.__typename) {
      case "ChannelAddedEvent":
        if (!this.state.conversations.has(u.channelId)) await this.refreshConversation(u.channelId).catch(() => {});
        break;
      case "ChannelRemovedEvent": this.forgetConversation(u.channelId); break;
      case "ReadStateEvent": await this.applyReadElsewhere(u.channels); break;
      case "PeerReadEvent": this.applyPeerRead(u.channelId, u.readPts); break;
      case "ConversationSettingsEvent": {
        const conv = this.state.conversations.get(u.channelId);
        if (u.hidden) this.state.conversations.delete(u.channelId);
        else if (conv) Object.assign(conv, { pinned: u.pinned, muted: u.muted });
        else await this.refreshConversation(u.channelId).catch(() => {});
        break;
      }
      case "FriendRequestReceivedEvent":
      case "FriendRequestAcceptedEvent":
      case "FriendRequestRejectedEvent":
      case "FriendRequestRecalledEvent":
        if (u.user) this.rememberUser(u.user);
        await this.loadRequests().catch(() => {});
        break;
      case "UserProfileChangedEvent": this.applyProfileChange(u); break;
      case "StickerCollectionEvent":
        if (this.state.stickers) await this.loadStickers().catch(() => {});
        break;
      case "FriendAddedEvent":
        this.rememberUser(u.user);
        await this.loadRequests().catch(() => {});
        if (u.channelId && !this.state.conversations.has(u.channelId)) await this.refreshConversation(u.channelId).catch(() => {});
        break;
      default: break;
    }
    this.changed();
  }

  async applyReadElsewhere(marks) {
    const behind = [];
    for (const { channelId, readPts } of marks) {
      const conv = this.state.conversations.get(channelId);
      if (!conv || readPts <= conv.readPts) continue;
      conv.readPts = readPts;
      if (readPts >= conv.pts) Object.assign(conv, { unreadCount: 0, mentioned: false });
      else behind.push(channelId);
    }
    if (behind.length) await this.recountUnread(behind);
  }

  async recountUnread(channelIds) {
    const data = await this.api.request(Q.UNREAD, { ids: channelIds });
    for (const row of data.messageStatusCount.channels) {
      const conv = this.state.conversations.get(row.channelId);
      if (conv) Object.assign(conv, { unreadCount: row.unread, mentioned: row.mentioned });
    }
    this.changed();
  }

  applyPeerRead(channelId, pts) {
    if (pts > (this.state.peerRead.get(channelId) || 0)) {
      this.state.peerRead.set(channelId, pts);
      this.changed();
    }
  }

  // -- ephemeral events -------------------------------------------------------------------

  applyTyping({ channelId, userId, action, expiresAt }) {
    if (userId === this.state.me.id) return;
    let users = this.state.typing.get(channelId);
    if (!users) this.state.typing.set(channelId, (users = new Map()));
    if (action === "CANCEL") users.delete(userId);
    else users.set(userId, { action, until: Math.min(Date.parse(expiresAt), Date.now() + 10_000) });
    this.userName(userId);
    this.changed();
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.expireTyping(), 1000);
  }

  expireTyping() {
    const now = Date.now();
    let left = false;
    for (const users of this.state.typing.values()) {
      for (const [id, t] of users) if (t.until <= now) users.delete(id);
      left ||= users.size > 0;
    }
    this.changed();
    if (left) this.typingTimer = setTimeout(() => this.expireTyping(), 1000);
  }

  applyPresence({ userId, status, lastSeenAt }) {
    this.state.presence.set(userId, { status, lastSeenAt });
    this.changed();
  }

  /**
   * Watch the presence of everyone we have a direct chat with: after every connect (the
   * server forgets watches when our last connection ends) and for each new direct chat.
   */
  async watchPresence({ reconnected = false } = {}) {
    if (reconnected) this.watched.clear();
    const peers = [...new Set([...this.state.conversations.values()].map((c) => c.peerId).filter(Boolean))]
      .filter((id) => !this.watched.has(id));
    for (const id of peers) this.watched.add(id);
    for (let i = 0; i < peers.length; i += 200) {
      const data = await this.api.request(Q.PRESENCE_SUBSCRIBE, { ids: peers.slice(i, i + 200) });
      for (const p of data.presenceSubscribe.presences) this.applyPresence(p);
    }
  }

  // -- timelines -----------------------------------------------------------------------------

  timeline(channelId) {
    const t = this.state.timelines.get(channelId);
    if (t && t.items === null) t.items = [...t.byPts.values()].sort((a, b) => a.pts - b.pts);
    return t;
  }

  insertMessages(timeline, messages) {
    for (const m of messages) {
      const old = timeline.byPts.get(m.pts);
      // A revoke may have been applied before an older copy of the message arrives.
      timeline.byPts.set(m.pts, old?.revoked ? old : m);
      if (timeline.oldestPts === null || m.pts < timeline.oldestPts) timeline.oldestPts = m.pts;
    }
    timeline.items = null;
  }

  open(channelId) {
    this.state.activeId = channelId;
    this.changed();
    if (!channelId) return;
    const conv = this.state.conversations.get(channelId);
    if (conv?.peerId) this.refreshUsers([conv.peerId]);
    if (!this.state.timelines.has(channelId)) this.loadOlder(channelId);
    this.scheduleRead(channelId);
  }

  /** The page of history before the oldest loaded message (the latest page at first). */
  async loadOlder(channelId) {
    let timeline = this.state.timelines.get(channelId);
    if (!timeline) this.state.timelines.set(channelId, (timeline = newTimeline()));
    if (timeline.loading || !timeline.hasMore) return;
    timeline.loading = true;
    this.changed();
    try {
      const data = await this.api.request(Q.HISTORY, { channelId, beforePts: timeline.oldestPts, limit: HISTORY_PAGE });
      const { messages, hasMore } = data.messageHistoryGet;
      if (this.state.timelines.get(channelId) !== timeline) return; // reset meanwhile
      const firstPage = !timeline.loaded;
      this.insertMessages(timeline, messages);
      timeline.hasMore = hasMore;
      timeline.loaded = true;
      for (const m of messages) this.userName(m.senderId);
      this.refreshReactions(messages.filter((m) => !m.revoked && m.type !== "SYSTEM").map((m) => m.id));
      if (firstPage) this.loadReadTicks(channelId, messages);
    } catch (err) {
      this.report(err);
    } finally {
      timeline.loading = false;
      this.changed();
    }
  }

  /** The read mark of other members, from the newest of my messages on screen. */
  async loadReadTicks(channelId, messages) {
    const mine = messages.filter((m) => m.senderId === this.state.me.id && !m.revoked).sort((a, b) => b.pts - a.pts)[0];
    if (!mine) return;
    const data = await this.api.request(Q.READ_STATS, { id: mine.id }).catch(() => null);
    if (data?.messageStatusReadStats.readCount > 0) this.applyPeerRead(channelId, mine.pts);
  }

  async refreshReactions(messageIds) {
    if (!messageIds.length) return;
    try {
      const data = await this.api.request(Q.REACTION_STATS, { ids: messageIds });
      for (const row of data.messageReactionStats.messages) this.state.reactions.set(row.messageId, row.reactions);
      this.changed();
    } catch (_) {
      /* reactions are decoration: the next event refreshes them */
    }
  }

  // -- reading -------------------------------------------------------------------------------

  /** Mark the open chat read (debounced), when the page is visible. */
  scheduleRead(channelId) {
    clearTimeout(this.readTimers.get(channelId));
    this.readTimers.set(channelId, setTimeout(() => this.markRead(channelId), 250));
  }

  async markRead(channelId) {
    const conv = this.state.conversations.get(channelId);
    if (!conv || this.state.activeId !== channelId || document.visibilityState === "hidden") return;
    if (conv.readPts >= conv.pts && conv.unreadCount === 0) return;
    const pts = conv.pts;
    Object.assign(conv, { readPts: pts, unreadCount: 0, mentioned: false });
    this.changed();
    try {
      await this.api.request(Q.READ, { channelId, pts });
    } catch (err) {
      if (!(err instanceof ApiError && err.retryable)) this.report(err);
    }
  }

  // -- sending (optimistic, retry-safe) -----------------------------------------------------

  persistOutbox() {
    // A file still uploading cannot survive a reload (the File is gone with the page); a
    // file uploaded can: its message is sent with the fileId. Preview URLs die with the page.
    const kept = [...this.state.outbox].filter(([, item]) => item.status !== "uploading" && (item.fileId || !item.upload));
    window.sessionStorage.setItem(OUTBOX_KEY, JSON.stringify(kept.map(([id, item]) => [id, { ...item, preview: null }])));
  }

  /** Show the message at once; the server's answer (with its pts) replaces it. */
  send(channelId, text, { replyTo = null, mentions = [], mentionAll = false } = {}) {
    const item = {
      clientMsgId: `web-${crypto.randomUUID()}`, // kept across retries: the server stores it once
      channelId,
      text,
      replyToId: replyTo?.id ?? null,
      replyPreview: replyTo ? messagePreview(replyTo) : null,
      mentions,
      mentionAll,
      createdAt: new Date().toISOString(),
      status: "sending",
      error: null,
    };
    this.state.outbox.set(item.clientMsgId, item);
    this.deliver(item); // first: the request leaves before the optimistic row is drawn
    this.changed();
    this.persistOutbox();
    return item.clientMsgId;
  }

  /** Sends of one channel go one after another, so they keep their order. */
  deliver(item) {
    const last = this.sendChains.get(item.channelId);
    const run = () => this.trySend(item);
    // Idle channel: send in this very task (the request leaves before any re-render).
    const entry = { busy: true };
    entry.promise = (last?.busy ? last.promise.then(run) : run()).finally(() => {
      entry.busy = false;
    });
    this.sendChains.set(item.channelId, entry);
    return entry.promise;
  }

  async trySend(item) {
    if (!this.state.outbox.has(item.clientMsgId)) return;
    if (item.status !== "sending") {
      item.status = "sending";
      item.error = null;
      this.changed();
    }
    const input = {
      channelId: item.channelId,
      clientMsgId: item.clientMsgId,
      content: contentOf(item),
      replyToId: item.replyToId,
      mentions: item.mentions,
      mentionAll: item.mentionAll,
    };
    try {
      const data = await this.api.request(Q.SEND, { input });
      const message = data.messageSend.message;
      const timeline = this.state.timelines.get(message.channelId);
      if (timeline) this.insertMessages(timeline, [message]);
      this.confirmSent(item.clientMsgId);
    } catch (err) {
      item.status = "failed";
      item.retryable = err instanceof ApiError && err.retryable;
      item.error = item.retryable ? "Not sent: waiting for the connection" : err.message;
      this.changed();
    }
  }

  confirmSent(clientMsgId) {
    const preview = this.state.outbox.get(clientMsgId)?.preview;
    if (preview) URL.revokeObjectURL(preview); // the picture being uploaded: the server's thumbnail replaces it
    if (this.state.outbox.delete(clientMsgId)) {
      this.persistOutbox();
      this.changed();
    }
  }

  /** After a reconnect: send again what the network swallowed (same clientMsgId). */
  retryOutbox() {
    for (const item of this.state.outbox.values()) {
      if (item.upload && !item.fileId) continue; // its upload retries by itself (tus)
      if (item.status !== "failed" || item.retryable) this.deliver(item);
    }
  }

  /** Retry a failed message: its upload first, when that is what failed. */
  retry(item) {
    const pending = this.uploads.get(item.clientMsgId);
    if (item.upload && !item.fileId) {
      if (pending?.file) this.startUpload(item, pending.file);
      return;
    }
    this.deliver(item);
  }

  discard(clientMsgId) {
    const item = this.state.outbox.get(clientMsgId);
    if (item?.status === "uploading") this.uploads.get(clientMsgId)?.cancel?.(); // a refused upload is gone already
    this.uploads.delete(clientMsgId);
    this.confirmSent(clientMsgId);
  }

  // -- attachments ---------------------------------------------------------------------------

  /**
   * Send a file: checked here first (size, type: a clear message and nothing sent when
   * refused), shown at once with a progress bar, uploaded over tus, then sent as an image
   * or file message with the same retry-safe clientMsgId as text.
   */
  sendFile(channelId, file, { replyTo = null } = {}) {
    const problem = fileProblem(file, "MESSAGE", this.fileLimits);
    if (problem) {
      this.notify(problem);
      return null;
    }
    const kind = attachmentKind(file);
    const item = {
      clientMsgId: `web-${crypto.randomUUID()}`,
      channelId,
      upload: kind, // "image" | "file"
      name: file.name,
      size: file.size,
      mime: file.type || null,
      preview: kind === "image" ? URL.createObjectURL(file) : null,
      fileId: null,
      progress: 0,
      replyToId: replyTo?.id ?? null,
      replyPreview: replyTo ? messagePreview(replyTo) : null,
      mentions: [],
      mentionAll: false,
      createdAt: new Date().toISOString(),
      status: "uploading",
      error: null,
    };
    this.state.outbox.set(item.clientMsgId, item);
    this.startUpload(item, file);
    return item.clientMsgId;
  }

  startUpload(item, file) {
    Object.assign(item, { status: "uploading", error: null, progress: 0 });
    const upload = this.files.upload(file, "MESSAGE", {
      resume: item.resume ?? null,
      onProgress: (sent, total) => {
        item.progress = total ? sent / total : 0;
        this.changed();
      },
    });
    this.uploads.set(item.clientMsgId, { cancel: upload.cancel, file });
    this.changed();
    upload.promise.then(
      (fileId) => {
        if (!this.state.outbox.has(item.clientMsgId)) return; // discarded meanwhile
        this.uploads.delete(item.clientMsgId);
        Object.assign(item, { fileId, progress: 1, status: "sending" });
        this.persistOutbox();
        this.deliver(item);
        this.changed();
      },
      (err) => {
        if (!this.state.outbox.has(item.clientMsgId) || err.code === "CANCELLED") return;
        // Retry continues a transfer the network broke; a refusal starts over (new upload).
        Object.assign(item, { status: "failed", retryable: false, error: `Not sent: ${err.message}`, resume: err.resume ?? null });
        this.changed();
      },
    );
  }

  /** Send a sticker of the user's collection. */
  sendSticker(channelId, sticker, pack) {
    const item = {
      clientMsgId: `web-${crypto.randomUUID()}`,
      channelId,
      sticker: { packageId: pack.id, stickerId: sticker.id, fileId: sticker.fileId, emoji: sticker.emoji },
      mentions: [],
      mentionAll: false,
      replyToId: null,
      createdAt: new Date().toISOString(),
      status: "sending",
      error: null,
    };
    this.state.outbox.set(item.clientMsgId, item);
    this.deliver(item);
    this.changed();
    this.persistOutbox();
    return item.clientMsgId;
  }

  async loadStickers() {
    const data = await this.api.request(Q.STICKER_COLLECTION);
    this.state.stickers = data.stickerCollectionList.packages;
    this.changed();
    return this.state.stickers;
  }

  // -- friends and groups ------------------------------------------------------------------

  async loadRequests() {
    const [incoming, outgoing] = await Promise.all([
      this.api.request(Q.PENDING, { direction: "INCOMING" }),
      this.api.request(Q.PENDING, { direction: "OUTGOING" }),
    ]);
    this.state.requests = {
      incoming: incoming.contactFriendPending.requests,
      outgoing: outgoing.contactFriendPending.requests,
    };
    for (const r of [...this.state.requests.incoming, ...this.state.requests.outgoing]) this.rememberUser(r.user);
    this.changed();
  }

  async loadGroup(groupId) {
    const [info, members] = await Promise.all([
      this.api.request(Q.GROUP_INFO, { id: groupId }),
      this.api.request(Q.GROUP_MEMBERS, { id: groupId }),
    ]);
    const list = members.groupMemberList.members;
    for (const m of list) this.rememberUser(m.user || { id: m.userId, username: m.displayName, displayName: m.displayName });
    this.state.groups.set(groupId, { ...info.groupGroupInfo.group, members: list });
    this.changed();
    return this.state.groups.get(groupId);
  }
}

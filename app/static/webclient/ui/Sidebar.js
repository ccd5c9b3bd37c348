// Navigation and the conversation list: pinned first, then by latest activity; last
// message, unread count, mention badge, muted marker, presence dot. Updates live.
import { html } from "../lib.js";
import { useStore } from "./context.js";
import { VirtualList } from "./VirtualList.js";
import { shortTime, initials } from "../format.js";

export function conversationTitle(store, conv) {
  if (!conv) return "";
  if (conv.kind === "DIRECT") return conv.peerId ? store.userName(conv.peerId) : conv.title || "Direct chat";
  return conv.title || "Group";
}

/** The photo of a conversation: the peer's avatar (direct), the group's (group). */
export function conversationAvatar(store, conv) {
  if (!conv) return null;
  if (conv.kind === "DIRECT") return conv.peerId ? store.state.users.get(conv.peerId)?.avatarFileId || null : null;
  return conv.avatarFileId || null;
}

/** A round photo, or the initials while there is none (or it is still loading). */
export function Avatar({ name, presence = null, size = "", url = null }) {
  const online = presence?.status === "ONLINE";
  return html`<span class=${`avatar ${size} ${url ? "has-photo" : ""}`} aria-hidden="true">${
    url ? html`<img src=${url} alt="" class="avatar-photo" decoding="async" />` : initials(name)}${
    presence && html`<span class=${`dot ${online ? "online" : "offline"}`}></span>`}</span>`;
}

function ConversationRow({ conv, active, store }) {
  const title = conversationTitle(store, conv);
  const presence = conv.peerId ? store.state.presence.get(conv.peerId) : null;
  const sender = conv.lastMessage && conv.kind === "GROUP" && conv.lastMessage.type !== "SYSTEM"
    ? `${conv.lastMessage.senderId === store.state.me.id ? "You" : store.userName(conv.lastMessage.senderId)}: ` : "";
  const typing = store.state.typing.get(conv.id);
  const status = [
    presence ? (presence.status === "ONLINE" ? "online" : "offline") : null,
    conv.pinned ? "pinned" : null,
    conv.muted ? "muted" : null,
    conv.mentioned ? "you were mentioned" : null,
    conv.unreadCount ? `${conv.unreadCount} unread` : null,
  ].filter(Boolean).join(", ");
  return html`
    <a href=${`#/c/${conv.id}`} class=${`conv ${active ? "active" : ""} ${conv.unreadCount ? "unread" : ""}`}
      aria-current=${active ? "page" : undefined} data-channel-id=${conv.id}>
      <${Avatar} name=${title} presence=${presence} url=${store.files.url(conversationAvatar(store, conv))} />
      <span class="conv-main">
        <span class="conv-top">
          <span class="conv-title" dir="auto">${title}</span>
          ${conv.pinned && html`<span class="marker pin" title="Pinned">📌</span>`}
          ${conv.muted && html`<span class="marker muted" title="Muted">🔕</span>`}
          <time class="conv-time" datetime=${conv.lastMessage?.createdAt}>${shortTime(conv.lastMessage?.createdAt)}</time>
        </span>
        <span class="conv-bottom">
          ${status && html`<span class="visually-hidden">(${status})</span>`}
          <span class="conv-preview" dir="auto">${typing?.size ? "typing…" : sender + conv.preview}</span>
          ${conv.mentioned && html`<span class="badge mention" title="You were mentioned">@</span>`}
          ${conv.unreadCount > 0 && html`<span class=${`badge ${conv.muted ? "quiet" : ""}`} data-unread=${conv.unreadCount}>${
            conv.unreadCount > 99 ? "99+" : conv.unreadCount}</span>`}
        </span>
      </span>
    </a>`;
}

export function Sidebar({ activeId, section }) {
  const store = useStore();
  const list = store.conversationList();
  const incoming = store.state.requests.incoming.length;
  return html`
    <nav class="sidebar" aria-label="Conversations">
      <div class="sidebar-actions">
        <a href="#/friends" class=${section === "friends" ? "active" : ""}>Friends${
          incoming > 0 && html` <span class="badge">${incoming}</span><span class="visually-hidden"> friend requests</span>`}</a>
        <a href="#/new-group" class=${section === "new-group" ? "active" : ""}>New group</a>
        <a href="#/search" class=${section === "search" ? "active" : ""}>Search</a>
      </div>
      ${!store.state.conversationsLoaded
        ? html`<p class="muted-text pad">Loading conversations…</p>`
        : list.length === 0
          ? html`<p class="muted-text pad">No conversations yet. Add a friend to start chatting.</p>`
          : html`<${VirtualList} className="conv-list" label="Conversation list" items=${list} estimate=${68}
              keyOf=${(c) => c.id} renderItem=${(c) => html`<${ConversationRow} conv=${c} active=${c.id === activeId} store=${store} />`} />`}
    </nav>`;
}

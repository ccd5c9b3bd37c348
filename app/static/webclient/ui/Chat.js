// One conversation: header (presence, typing), history with infinite scroll upwards,
// messages with replies, mentions, reactions, recall and read ticks, and the composer.
import { html, useEffect, useRef, useState } from "../lib.js";
import { useApp, useStore } from "./context.js";
import { VirtualList } from "./VirtualList.js";
import { Avatar, conversationAvatar, conversationTitle } from "./Sidebar.js";
import { richText, timeOfDay, fullTime, shortTime } from "../format.js";
import { messagePreview } from "../store.js";
import { formatBytes } from "../files.js";
import * as Q from "../queries.js";

const TYPING_EVERY_MS = 3000; // renew "typing" this often while the user types
const TYPING_SHOWN_MS = 6000; // how long others show it (the server's expiresAt, roughly)

function presenceText(presence) {
  if (!presence || presence.status === "HIDDEN") return "";
  if (presence.status === "ONLINE") return "online";
  return presence.lastSeenAt ? `last seen ${shortTime(presence.lastSeenAt)} ${timeOfDay(presence.lastSeenAt)}` : "offline";
}

function typingText(store, channelId) {
  const users = store.state.typing.get(channelId);
  if (!users?.size) return "";
  const names = [...users.keys()].map((id) => store.userName(id));
  return names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, 2).join(" and ")} are typing…`;
}

function ChatHeader({ conv, store }) {
  const { api } = useApp();
  const title = conversationTitle(store, conv);
  const presence = conv.peerId ? store.state.presence.get(conv.peerId) : null;
  const typing = typingText(store, conv.id);
  const toggle = async (doc, on) => {
    try {
      await api.request(doc, { id: conv.id, on });
    } catch (err) {
      store.report(err);
    }
  };
  const subtitle = typing || (conv.kind === "DIRECT" ? presenceText(presence) : `${conv.memberCount} members`);
  return html`
    <header class="chat-header">
      <a href="#/" class="back" aria-label="Back to conversations">‹</a>
      <${Avatar} name=${title} presence=${presence} url=${store.files.url(conversationAvatar(store, conv))} />
      <div class="chat-title">
        <h2 dir="auto">${title}</h2>
        <p class=${`subtitle ${typing ? "typing" : ""}`} aria-live="polite">${subtitle}</p>
      </div>
      <div class="chat-actions">
        <button type="button" class="ghost" aria-pressed=${conv.pinned} onClick=${() => toggle(Q.CONV_PIN, !conv.pinned)}>
          ${conv.pinned ? "Unpin" : "Pin"}</button>
        <button type="button" class="ghost" aria-pressed=${conv.muted} onClick=${() => toggle(Q.CONV_MUTE, !conv.muted)}>
          ${conv.muted ? "Unmute" : "Mute"}</button>
        <a class="button ghost" href=${`#/c/${conv.id}/info`}>Details</a>
      </div>
    </header>`;
}

function Ticks({ message, store }) {
  const read = message.pts <= (store.state.peerRead.get(message.channelId) || 0);
  return read
    ? html`<span class="ticks read" role="img" aria-label="Read" title="Read">✓✓</span>`
    : html`<span class="ticks" role="img" aria-label="Sent" title="Sent">✓</span>`;
}

function Reactions({ message, store, onToggle }) {
  const reactions = store.state.reactions.get(message.id) || [];
  if (!reactions.length) return null;
  return html`<div class="reactions">${reactions.map((r) => html`
    <button type="button" class=${`reaction ${r.reactedByMe ? "mine" : ""}`} aria-pressed=${r.reactedByMe}
      aria-label=${`${r.emoji} ${r.count}${r.reactedByMe ? ", including you" : ""}`} onClick=${() => onToggle(r.emoji, r.reactedByMe)}>
      ${r.emoji} <span>${r.count}</span></button>`)}</div>`;
}

// A transparent pixel: holds a picture's place (its final size, from width/height) until
// its signed link arrives, so nothing below moves when it does.
const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

/** Display size of a picture: at most 240 x 240 CSS pixels, its own proportions. */
function fitted(width, height, max = 240) {
  if (!width || !height) return { width: max, height: max };
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** An image message: its thumbnail (the server's), a button that opens the full picture. */
function ImageMessage({ content, store, onOpen, who }) {
  const { width, height } = fitted(content.width, content.height);
  const url = store.files.url(content.thumbnailFileId || content.fileId);
  const label = `Open the photo${content.caption ? `: ${content.caption}` : ""} from ${who}`;
  return html`<div class="image-message">
    <button type="button" class="image-open" aria-label=${label} onClick=${() => onOpen(content)}>
      <img class=${`thumb ${url ? "" : "loading"}`} src=${url || BLANK} width=${width} height=${height}
        alt=${content.caption || "Photo"} decoding="async" />
    </button>
    ${content.caption && html`<p class="body caption" dir="auto">${content.caption}</p>`}
  </div>`;
}

/** "1:05" for 65,000 ms. */
function duration(ms) {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/**
 * A voice message or a video: the browser's own player (the files door answers Range
 * requests, so it can seek; an S3 source may redirect it, which the page's CSP allows),
 * then the download link. The player keeps the link it started with, so a link renewed
 * meanwhile does not restart what is playing; a link that expired before Play is asked
 * for again when the player reports the error.
 */
function MediaMessage({ content, store }) {
  const video = content.__typename === "VideoContent";
  const url = store.files.url(content.fileId);
  const [src, setSrc] = useState(url);
  useEffect(() => {
    if (!src && url) setSrc(url);
  }, [url]);
  const renew = async () => {
    const fresh = await store.files.freshUrl(content.fileId);
    if (fresh && fresh !== src) setSrc(fresh);
  };
  const label = `${video ? "Video" : "Voice message"}${content.durationMs ? `, ${duration(content.durationMs)}` : ""}`;
  const poster = video ? store.files.url(content.thumbnailFileId) : null;
  const { width, height } = fitted(content.width, content.height, 320);
  return html`<div class=${`media-message ${video ? "video" : "audio"}`}>
    ${!src ? html`<span class="muted-text">…</span>`
      : video ? html`<video controls preload="metadata" src=${src} poster=${poster || undefined} width=${width} height=${height}
          aria-label=${label} onError=${renew}></video>`
      : html`<audio controls preload="metadata" src=${src} aria-label=${label} onError=${renew}></audio>`}
    <${FileMessage} content=${content} store=${store} />
  </div>`;
}

/** A file message (and the download link under a player): name, size, a download link. */
function FileMessage({ content, store }) {
  const url = store.files.url(content.fileId);
  // A page left open for hours holds a link that has expired: get a fresh one first.
  const download = async (event) => {
    const link = event.currentTarget;
    if (link.dataset.checked) return;
    event.preventDefault();
    const fresh = await store.files.freshUrl(content.fileId);
    if (!fresh) {
      store.notify("This file cannot be downloaded any more.");
      return;
    }
    link.href = fresh;
    link.dataset.checked = "1";
    link.click();
    delete link.dataset.checked;
  };
  const name = content.name || (content.__typename === "AudioContent" ? "Voice message" : content.__typename === "VideoContent" ? "Video" : "File");
  return html`<div class="file-message">
    <span class="file-icon" aria-hidden="true">📄</span>
    <span class="file-facts"><span class="file-name" dir="auto">${name}</span>
      ${content.size != null && html`<span class="file-size">${formatBytes(content.size)}</span>`}</span>
    ${url ? html`<a class="button ghost download" href=${url} rel="noopener noreferrer" onClick=${download}
        aria-label=${`Download ${name}`}>Download</a>`
      : html`<span class="muted-text">…</span>`}
  </div>`;
}

function Sticker({ content, store }) {
  const url = store.files.url(content.fileId);
  const alt = content.emoji ? `Sticker ${content.emoji}` : "Sticker";
  return url ? html`<img class="sticker" src=${url} alt=${alt} width="128" height="128" decoding="async" />`
    : html`<span class="sticker placeholder" role="img" aria-label=${alt}>${content.emoji || "…"}</span>`;
}

function Attachment({ content, store, onOpen, who }) {
  switch (content?.__typename) {
    case "ImageContent": return html`<${ImageMessage} content=${content} store=${store} onOpen=${onOpen} who=${who} />`;
    case "FileContent": return html`<${FileMessage} content=${content} store=${store} />`;
    case "AudioContent":
    case "VideoContent": return html`<${MediaMessage} content=${content} store=${store} />`;
    case "StickerContent": return html`<${Sticker} content=${content} store=${store} />`;
    default: return html`<p class="attachment">${messagePreview({ content })}</p>`;
  }
}

/** The full picture over the chat; Escape or Close returns to where the user was. */
function Viewer({ image, store, onClose }) {
  const close = useRef(null);
  useEffect(() => {
    const before = document.activeElement;
    close.current?.focus();
    const onKey = (event) => {
      if (event.key === "Escape") onClose();
      if (event.key !== "Tab") return;
      // Modal: Tab goes round the viewer's own controls.
      const controls = [...document.querySelectorAll(".viewer a, .viewer button")];
      const at = controls.indexOf(document.activeElement);
      event.preventDefault();
      controls[(at + (event.shiftKey ? controls.length - 1 : 1)) % controls.length]?.focus();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      // Back to the photo's button, once the chat has redrawn without the viewer (moving a
      // row in the list would take the focus away again), found again by its message.
      setTimeout(() => {
        const opener = image.messageId
          ? document.querySelector(`.msg[data-message-id="${CSS.escape(String(image.messageId))}"] .image-open`) : null;
        (opener || (before?.isConnected ? before : null))?.focus();
      }, 0);
    };
  }, []);
  const url = store.files.url(image.fileId);
  const preview = store.files.url(image.thumbnailFileId);
  return html`<div class="viewer" role="dialog" aria-modal="true" aria-label="Photo" onClick=${(e) => { if (e.target === e.currentTarget) onClose(); }}>
    <div class="viewer-bar">
      ${url && html`<a class="button" href=${url} target="_blank" rel="noopener noreferrer">Open the original</a>`}
      <button type="button" ref=${close} onClick=${onClose}>Close</button>
    </div>
    ${url || preview ? html`<img class="full" src=${url || preview} alt=${image.caption || "Photo"} width=${image.width || undefined}
        height=${image.height || undefined} />` : html`<p>Loading…</p>`}
    ${image.caption && html`<p class="viewer-caption" dir="auto">${image.caption}</p>`}
  </div>`;
}

function MessageRow({ message, store, conv, canModerate, onReply, onOpen, config }) {
  const { api } = useApp();
  const [picking, setPicking] = useState(false);
  const me = store.state.me.id;
  if (message.type === "SYSTEM") {
    return html`<p class="system-line" dir="auto">${message.content?.text || ""}</p>`;
  }
  const mine = message.senderId === me;
  const mentionsMe = message.mentionAll || message.mentions.includes(me);
  const withinWindow = Date.now() - Date.parse(message.createdAt) < config.revokeWindowSeconds * 1000;
  const canRevoke = !message.revoked && ((mine && withinWindow) || canModerate);
  const react = async (emoji, remove) => {
    setPicking(false);
    try {
      await api.request(remove ? Q.REACT_REMOVE : Q.REACT_ADD, { id: message.id, emoji });
    } catch (err) {
      store.report(err);
    }
  };
  const revoke = async () => {
    if (!window.confirm("Recall this message for everyone?")) return;
    try {
      await api.request(Q.REVOKE, { id: message.id });
    } catch (err) {
      store.report(err);
    }
  };
  const c = message.content;
  return html`
    <article class=${`msg ${mine ? "mine" : ""} ${mentionsMe ? "mentions-me" : ""}`} data-pts=${message.pts}
      data-message-id=${message.id} aria-label=${`${mine ? "You" : store.userName(message.senderId)}, ${fullTime(message.createdAt)}`}>
      ${!mine && conv.kind === "GROUP" && html`<p class="sender" dir="auto"><${Avatar} name=${store.userName(message.senderId)} size="tiny"
        url=${store.files.url(store.state.users.get(message.senderId)?.avatarFileId)} /><span>${store.userName(message.senderId)}</span></p>`}
      ${message.replyTo && html`<blockquote class="reply-quote" dir="auto">
        <span class="reply-author">${store.userName(message.replyTo.senderId)}</span>
        ${message.replyTo.revoked ? "Message recalled" : message.replyTo.preview}</blockquote>`}
      ${message.revoked
        ? html`<p class="body recalled">This message was recalled</p>`
        : c?.__typename === "TextContent"
          ? html`<p class="body" dir="auto">${richText(c.text)}</p>`
          : html`<${Attachment} content=${c} store=${store} onOpen=${(image) => onOpen({ ...image, messageId: message.id })}
              who=${mine ? "you" : store.userName(message.senderId)} />`}
      ${!message.revoked && html`<${Reactions} message=${message} store=${store} onToggle=${(e, mineR) => react(e, mineR)} />`}
      <footer class="meta">
        <time datetime=${message.createdAt} title=${fullTime(message.createdAt)}>${timeOfDay(message.createdAt)}</time>
        ${mine && !message.revoked && html`<${Ticks} message=${message} store=${store} />`}
      </footer>
      ${!message.revoked && html`
        <div class="msg-actions">
          <button type="button" class="mini" onClick=${() => onReply(message)}>Reply</button>
          <button type="button" class="mini" aria-expanded=${picking} onClick=${() => setPicking(!picking)}>React</button>
          ${canRevoke && html`<button type="button" class="mini danger" onClick=${revoke}>Recall</button>`}
        </div>
        ${picking && html`<div class="picker" role="group" aria-label="Choose a reaction">${config.reactionEmoji.slice(0, 8).map(
          (emoji) => html`<button type="button" class="emoji" aria-label=${`React with ${emoji}`} onClick=${() => react(emoji, false)}>${emoji}</button>`)}</div>`}`}
    </article>`;
}

function PendingBody({ item, store }) {
  if (item.sticker) return html`<${Sticker} content=${item.sticker} store=${store} />`;
  if (!item.upload) return html`<p class="body" dir="auto">${richText(item.text)}</p>`;
  const { width, height } = fitted(0, 0, 160);
  return html`<div class="upload">
    ${item.preview ? html`<img class="thumb" src=${item.preview} alt=${item.name} width=${width} height=${height} />`
      : html`<div class="file-message"><span class="file-icon" aria-hidden="true">📄</span>
          <span class="file-facts"><span class="file-name" dir="auto">${item.name}</span>
          <span class="file-size">${formatBytes(item.size)}</span></span></div>`}
    ${item.status === "uploading" && html`<div class="progress-row">
      <progress max="100" value=${Math.round(item.progress * 100)} aria-label=${`Uploading ${item.name}`}></progress>
      <span class="progress-text" aria-hidden="true">${Math.round(item.progress * 100)}%</span>
      <button type="button" class="mini" onClick=${() => store.discard(item.clientMsgId)}
        aria-label=${`Cancel the upload of ${item.name}`}>Cancel</button></div>`}
  </div>`;
}

function PendingRow({ item, store }) {
  return html`
    <article class=${`msg mine pending ${item.status}`} data-client-msg-id=${item.clientMsgId} aria-label="You, not yet sent">
      ${item.replyPreview && html`<blockquote class="reply-quote" dir="auto">${item.replyPreview}</blockquote>`}
      <${PendingBody} item=${item} store=${store} />
      <footer class="meta">
        <time datetime=${item.createdAt}>${timeOfDay(item.createdAt)}</time>
        ${item.status === "sending" || item.status === "uploading"
          ? html`<span class="ticks" role="img" aria-label="Sending" title="Sending">🕓</span>`
          : html`<span class="send-error" role="alert">${item.error}</span>
                 <button type="button" class="mini" onClick=${() => store.retry(item)}>Retry</button>
                 <button type="button" class="mini" onClick=${() => store.discard(item.clientMsgId)}>Discard</button>`}
      </footer>
    </article>`;
}

/** The user's sticker packs; a pack not yet collected can be added from the published ones. */
function StickerPanel({ conv, store, onDone }) {
  const { api } = useApp();
  const [packs, setPacks] = useState(null); // published packs, when browsing
  useEffect(() => {
    if (!store.state.stickers) store.loadStickers().catch((err) => store.report(err));
  }, []);
  const mine = store.state.stickers;
  const browse = async () => {
    try {
      const data = await api.request(Q.STICKER_PACKS, { cursor: null });
      setPacks(data.stickerPackageList.packages.filter((p) => !p.inCollection));
    } catch (err) {
      store.report(err);
    }
  };
  const add = async (pack) => {
    try {
      await api.request(Q.STICKER_ADD, { id: pack.id });
      setPacks((list) => list.filter((p) => p.id !== pack.id));
      await store.loadStickers();
    } catch (err) {
      store.report(err);
    }
  };
  return html`<div class="sticker-panel" role="group" aria-label="Stickers"
    onKeyDown=${(e) => { if (e.key === "Escape") { e.stopPropagation(); onDone(); } }}>
    ${mine === null ? html`<p class="muted-text">Loading stickers…</p>`
      : mine.length === 0 ? html`<p class="muted-text">You have no stickers yet.</p>`
      : mine.map((pack) => html`<div class="sticker-pack">
          <p class="pack-name" dir="auto">${pack.name}</p>
          <div class="sticker-grid">${pack.stickers.map((st, i) => {
            const url = store.files.url(st.fileId);
            const label = `Send sticker ${st.emoji || i + 1} from ${pack.name}`;
            return html`<button type="button" class="sticker-pick" aria-label=${label}
              onClick=${() => { store.sendSticker(conv.id, st, pack); onDone(); }}>
              ${url ? html`<img src=${url} alt="" width="64" height="64" />` : st.emoji || "…"}</button>`;
          })}</div></div>`)}
    ${packs === null ? html`<button type="button" class="link" onClick=${browse}>Find sticker packs</button>`
      : packs.length === 0 ? html`<p class="muted-text">No other packs are published.</p>`
      : html`<ul class="pack-list">${packs.map((p) => html`<li><span dir="auto">${p.name}</span>
          <span class="muted-text">${p.stickers.length} stickers</span>
          <button type="button" class="mini" onClick=${() => add(p)} aria-label=${`Add ${p.name}`}>Add</button></li>`)}</ul>`}
  </div>`;
}

/** Who can be @mentioned here: the group's members (or the direct peer). */
function mentionCandidates(store, conv) {
  if (conv.kind === "DIRECT") return conv.peerId ? [{ id: conv.peerId, name: store.userName(conv.peerId) }] : [];
  const group = store.state.groups.get(conv.id);
  return (group?.members || [])
    .filter((m) => m.userId !== store.state.me.id)
    .map((m) => ({ id: m.userId, name: store.userName(m.userId) }));
}

function Composer({ conv, store, replyTo, clearReply, config, canSend }) {
  const { api } = useApp();
  const [text, setText] = useState("");
  const [mentioned, setMentioned] = useState([]); // [{id, name}] picked from suggestions
  const [query, setQuery] = useState(null); // the "@word" being typed
  const [selected, setSelected] = useState(0);
  const [stickers, setStickers] = useState(false);
  const input = useRef(null);
  const fileInput = useRef(null);
  const lastTyping = useRef(0);

  useEffect(() => {
    setText(""); setMentioned([]); setQuery(null); setStickers(false);
  }, [conv.id]);
  useEffect(() => {
    if (replyTo) input.current?.focus();
  }, [replyTo]);

  const candidates = query === null ? [] : mentionCandidates(store, conv)
    .filter((c) => c.name.toLowerCase().startsWith(query.toLowerCase()))
    .slice(0, 6);

  const onInput = (event) => {
    const value = event.currentTarget.value;
    setText(value);
    const caret = event.currentTarget.selectionStart;
    const match = /(?:^|\s)@([^\s@]*)$/u.exec(value.slice(0, caret));
    setQuery(match ? match[1] : null);
    setSelected(0);
    if (value && Date.now() - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = Date.now();
      api.request(Q.TYPING, { channelId: conv.id, action: "TYPING" }).catch(() => {});
    }
  };

  const pick = (candidate) => {
    const el = input.current;
    const caret = el.selectionStart;
    const before = text.slice(0, caret).replace(/@([^\s@]*)$/u, `@${candidate.name} `);
    setText(before + text.slice(caret));
    setMentioned((list) => (list.some((m) => m.id === candidate.id) ? list : [...list, candidate]));
    setQuery(null);
    el.focus();
  };

  const send = () => {
    const body = text.trim();
    if (!body) return;
    // Only mentions whose "@Name" is still in the text count.
    const mentions = mentioned.filter((m) => body.includes(`@${m.name}`)).map((m) => m.id);
    store.send(conv.id, body, { replyTo, mentions, mentionAll: /(^|\s)@all\b/u.test(body) && conv.kind === "GROUP" });
    setText(""); setMentioned([]); setQuery(null);
    clearReply();
    // Take the indicator down at once, if we put one up (it would expire by itself).
    if (Date.now() - lastTyping.current < TYPING_SHOWN_MS) {
      api.request(Q.TYPING, { channelId: conv.id, action: "CANCEL" }).catch(() => {});
    }
    lastTyping.current = 0;
  };

  const attach = (files) => {
    for (const file of files) store.sendFile(conv.id, file, { replyTo });
    if (files.length) clearReply();
  };
  const onPaste = (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length && config.filesEnabled) {
      event.preventDefault();
      attach(files);
    }
  };

  const onKeyDown = (event) => {
    if (candidates.length) {
      if (event.key === "ArrowDown") { event.preventDefault(); setSelected((selected + 1) % candidates.length); return; }
      if (event.key === "ArrowUp") { event.preventDefault(); setSelected((selected + candidates.length - 1) % candidates.length); return; }
      if (event.key === "Enter" || event.key === "Tab") { event.preventDefault(); pick(candidates[selected]); return; }
      if (event.key === "Escape") { setQuery(null); return; }
    }
    if (event.key === "Escape" && replyTo) clearReply();
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  };

  if (!canSend) return html`<p class="composer-closed">${canSend === false ? "You cannot send messages here." : ""}</p>`;
  return html`
    <form class="composer" onSubmit=${(e) => { e.preventDefault(); send(); }}>
      ${replyTo && html`<div class="replying" role="status">
        <span>Replying to <strong>${store.userName(replyTo.senderId)}</strong>: <span dir="auto">${messagePreview(replyTo)}</span></span>
        <button type="button" class="icon" aria-label="Cancel reply" onClick=${clearReply}>×</button></div>`}
      ${candidates.length > 0 && html`<ul class="suggestions" role="listbox" id="mention-list" aria-label="People to mention">
        ${candidates.map((c, i) => html`<li role="option" id=${`mention-${c.id}`} aria-selected=${i === selected}
          onMouseDown=${(e) => { e.preventDefault(); pick(c); }}>@${c.name}</li>`)}</ul>`}
      ${stickers && html`<${StickerPanel} conv=${conv} store=${store}
        onDone=${() => { setStickers(false); document.querySelector(".composer button.stickers")?.focus(); }} />`}
      <div class="composer-row">
        ${config.filesEnabled && html`
          <input type="file" ref=${fileInput} class="visually-hidden" id="attach-input" multiple tabIndex="-1" aria-hidden="true"
            onChange=${(e) => { attach([...e.currentTarget.files]); e.currentTarget.value = ""; }} />
          <button type="button" class="ghost attach" title="Attach a photo or file" aria-label="Attach a photo or file"
            onClick=${() => fileInput.current?.click()}>📎</button>
          <button type="button" class="ghost stickers" title="Stickers" aria-label="Stickers" aria-expanded=${stickers}
            onClick=${() => setStickers(!stickers)}>🙂</button>`}
        <label class="visually-hidden" for="composer-input">Message</label>
        <textarea id="composer-input" ref=${input} rows="1" placeholder="Write a message…" value=${text}
          onInput=${onInput} onKeyDown=${onKeyDown} onPaste=${onPaste} maxlength="4000" autocomplete="off"
          aria-autocomplete="list" aria-controls=${candidates.length ? "mention-list" : undefined}
          aria-activedescendant=${candidates.length ? `mention-${candidates[selected]?.id}` : undefined}></textarea>
        <button type="submit" class="primary send" disabled=${!text.trim()}>Send</button>
      </div>
    </form>`;
}

export function Chat({ channelId }) {
  const store = useStore();
  const { config } = useApp();
  const [replyTo, setReplyTo] = useState(null);
  const [viewing, setViewing] = useState(null); // the image shown in full
  const [dropping, setDropping] = useState(false); // files dragged over the chat
  const conv = store.state.conversations.get(channelId);

  useEffect(() => {
    setReplyTo(null);
    setViewing(null);
    if (conv?.kind === "GROUP" && !store.state.groups.has(channelId)) store.loadGroup(channelId).catch(() => {});
  }, [channelId, conv?.kind]);

  if (!conv) {
    return html`<div class="empty-pane"><p>${store.state.conversationsLoaded ? "This conversation is not available." : "Loading…"}</p></div>`;
  }
  const timeline = store.timeline(channelId);
  const messages = timeline?.items || [];
  const pending = [...store.state.outbox.values()].filter((p) => p.channelId === channelId);
  const rows = [
    { key: "top", kind: "top" },
    ...messages.map((m) => ({ key: `p${m.pts}`, kind: "message", message: m })),
    ...pending.map((p) => ({ key: `c${p.clientMsgId}`, kind: "pending", item: p })),
  ];
  const group = store.state.groups.get(channelId);
  const canModerate = group ? ["OWNER", "ADMIN"].includes(group.myRole) : false;
  const canSend = conv.kind === "GROUP" && group ? !group.muted : true;

  const renderRow = (row) => {
    if (row.kind === "top") {
      return html`<p class="history-edge">${timeline?.loading ? "Loading earlier messages…"
        : timeline && !timeline.hasMore ? "This is the beginning of the conversation." : ""}</p>`;
    }
    if (row.kind === "pending") return html`<${PendingRow} item=${row.item} store=${store} />`;
    return html`<${MessageRow} message=${row.message} store=${store} conv=${conv} canModerate=${canModerate}
      onReply=${setReplyTo} onOpen=${setViewing} config=${config} />`;
  };

  // Files dropped on the chat are sent as if attached.
  const hasFiles = (event) => config.filesEnabled && canSend && [...(event.dataTransfer?.types || [])].includes("Files");
  const onDragOver = (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    if (!dropping) setDropping(true);
  };
  const onDrop = (event) => {
    setDropping(false);
    if (!hasFiles(event)) return;
    event.preventDefault();
    for (const file of event.dataTransfer.files) store.sendFile(channelId, file, { replyTo });
    setReplyTo(null);
  };
  return html`
    <section class=${`chat ${dropping ? "dropping" : ""}`} aria-label=${`Chat with ${conversationTitle(store, conv)}`} data-channel-id=${channelId}
      onDragOver=${onDragOver} onDragLeave=${(e) => { if (!e.currentTarget.contains(e.relatedTarget)) setDropping(false); }} onDrop=${onDrop}>
      <${ChatHeader} conv=${conv} store=${store} />
      <${VirtualList} key=${channelId} className="messages" role="log" rowRole=${null} label="Messages"
        tabIndex="0" items=${rows} keyOf=${(r) => r.key} renderItem=${renderRow} estimate=${64}
        stickToBottom=${true} anchored=${true}
        onNearTop=${() => timeline?.loaded && timeline.hasMore && !timeline.loading && store.loadOlder(channelId)} />
      <${Composer} conv=${conv} store=${store} replyTo=${replyTo} clearReply=${() => setReplyTo(null)} config=${config} canSend=${canSend} />
      ${viewing && html`<${Viewer} image=${viewing} store=${store} onClose=${() => setViewing(null)} />`}
    </section>`;
}

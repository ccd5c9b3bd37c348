// The application shell: login screen or the chat layout (conversation list + a pane),
// the connection banner, and the hash routes:
//   #/c/<id> a chat   #/c/<id>/info its details   #/friends   #/new-group   #/search   #/profile
import { html, useEffect, useState } from "../lib.js";
import { useApp, useRoute, useStore, navigate } from "./context.js";
import { Login } from "./Login.js";
import { Sidebar } from "./Sidebar.js";
import { Chat } from "./Chat.js";
import { Friends } from "./Friends.js";
import { NewGroup, ChannelInfo } from "./Groups.js";
import { Search } from "./Search.js";
import { Profile } from "./Profile.js";
import { Avatar } from "./Sidebar.js";

export function App({ start, stop }) {
  const { api } = useApp();
  const [user, setUser] = useState(api.user);
  const [reason, setReason] = useState(null);

  useEffect(() => {
    api.onSessionLost = (why) => {
      stop();
      setReason(why);
      setUser(null);
    };
  });

  if (!user) {
    return html`<${Login} reason=${reason} onLoggedIn=${(u) => { setReason(null); start(u); setUser(u); }} />`;
  }
  return html`<${Main} onLogout=${async () => {
    try {
      await api.logout();
    } finally {
      stop();
      setReason("You are logged out.");
      setUser(null);
    }
  }} />`;
}

function Banner() {
  const store = useStore();
  const { status, online } = store.state;
  let text = null;
  if (!online) text = "You are offline. Messages will be sent when the connection is back.";
  else if (status === "reconnecting") text = "Reconnecting…";
  else if (status === "connecting") text = "Connecting…";
  else if (status === "syncing") text = "Updating…";
  return html`<div class=${`banner ${text ? "shown" : ""} ${online ? "" : "offline"}`} role="status" aria-live="polite"
    data-status=${online ? status : "offline"}>${text}</div>`;
}

function Notice() {
  const store = useStore();
  const notice = store.state.notice;
  useEffect(() => {
    if (!notice) return undefined;
    const timer = setTimeout(() => { store.state.notice = null; store.changed(); }, 6000);
    return () => clearTimeout(timer);
  }, [notice]);
  if (!notice) return null;
  return html`<div class="notice" role="alert">
    <span>${notice.text}</span>
    <button type="button" class="icon" aria-label="Dismiss" onClick=${() => { store.state.notice = null; store.changed(); }}>×</button>
  </div>`;
}

function Main({ onLogout }) {
  const store = useStore();
  const route = useRoute();
  const [section, id, sub] = route;
  const me = store.state.me;

  useEffect(() => {
    store.open(section === "c" ? id : null);
  }, [section, id]);

  let pane;
  if (section === "c" && id && sub === "info") pane = html`<${ChannelInfo} channelId=${id} />`;
  else if (section === "c" && id) pane = html`<${Chat} channelId=${id} />`;
  else if (section === "friends") pane = html`<${Friends} />`;
  else if (section === "new-group") pane = html`<${NewGroup} />`;
  else if (section === "search") pane = html`<${Search} />`;
  else if (section === "profile") pane = html`<${Profile} />`;
  else pane = html`<div class="empty-pane"><p>Select a conversation, or start one from <a href="#/friends">Friends</a>.</p></div>`;

  return html`
    <div class=${`app ${section ? "has-detail" : "at-home"}`}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <h1 class="brand"><a href="#/">PrivChat</a></h1>
        <a class="whoami" href="#/profile" title=${`@${me.username}: your profile`}>
          <${Avatar} name=${me.displayName || me.username} url=${store.files.url(me.avatarFileId)} />
          <span>${me.displayName || me.username}</span><span class="visually-hidden"> (your profile)</span></a>
        <button type="button" class="ghost" onClick=${onLogout}>Log out</button>
      </header>
      <${Banner} />
      <${Notice} />
      <div class="layout">
        <${Sidebar} activeId=${section === "c" ? id : null} section=${section} />
        <main class="pane" id="main" tabIndex="-1">${pane}</main>
      </div>
    </div>`;
}

export { navigate };

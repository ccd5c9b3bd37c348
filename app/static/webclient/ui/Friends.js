// Friends: find people, send requests, answer incoming ones, start a chat.
import { html, useEffect, useState } from "../lib.js";
import { useApp, useStore, navigate } from "./context.js";
import { Avatar } from "./Sidebar.js";
import * as Q from "../queries.js";

/** Open (or create) the direct chat with a user, then show it. */
export async function openDirect(api, store, userId) {
  const data = await api.request(Q.DIRECT, { userId });
  const conv = store.upsertConversation(data.channelDirectGetOrCreate.conversation);
  navigate(`/c/${conv.id}`);
}

export function useFriends() {
  const { api } = useApp();
  const store = useStore();
  const [friends, setFriends] = useState(null);
  const load = async () => {
    const all = [];
    let cursor = null;
    do {
      const data = await api.request(Q.FRIENDS, { cursor });
      all.push(...data.contactFriendList.friends);
      cursor = data.contactFriendList.nextCursor;
    } while (cursor);
    for (const f of all) store.rememberUser(f.user);
    setFriends(all);
  };
  useEffect(() => {
    load().catch((err) => store.report(err));
  }, [store.state.requests]);
  return friends;
}

export function Friends() {
  const { api } = useApp();
  const store = useStore();
  const friends = useFriends();
  const [results, setResults] = useState(null);
  const [sent, setSent] = useState(new Set());
  const { incoming, outgoing } = store.state.requests;

  useEffect(() => {
    store.loadRequests().catch((err) => store.report(err));
  }, []);

  const act = (fn) => async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      store.report(err);
    }
  };
  const search = act(async (event) => {
    event.preventDefault();
    const q = String(new FormData(event.currentTarget).get("q") || "").trim();
    if (!q) return;
    const data = await api.request(Q.USER_SEARCH, { q });
    setResults(data.accountSearchQuery.results.filter((r) => r.user.id !== store.state.me.id));
  });
  const apply = act(async (result) => {
    const userId = result.user.id;
    const data = await api.request(Q.FRIEND_APPLY, { userId, searchProof: result.searchProof, message: null });
    setSent(new Set([...sent, userId]));
    await store.loadRequests();
    if (data.contactFriendApply.outcome === "FRIENDS") store.notify("You are now friends.", "info");
  });
  const accept = act(async (userId) => {
    await api.request(Q.FRIEND_ACCEPT, { userId });
    await store.loadRequests();
  });
  const reject = act(async (userId) => {
    await api.request(Q.FRIEND_REJECT, { userId });
    await store.loadRequests();
  });
  const message = act((userId) => openDirect(api, store, userId));

  return html`
    <section class="page" aria-labelledby="friends-title">
      <header class="page-header"><a href="#/" class="back" aria-label="Back to conversations">‹</a><h2 id="friends-title">Friends</h2></header>
      <form class="inline-form" role="search" onSubmit=${search}>
        <label for="user-search">Find people</label>
        <input id="user-search" name="q" type="search" placeholder="Username or name" autocomplete="off" />
        <button type="submit" class="primary">Search</button>
      </form>
      ${results && html`<h3>Search results</h3>
        ${results.length === 0 ? html`<p class="muted-text">Nobody found.</p>` : html`<ul class="people">${results.map((r) => html`
          <li data-user=${r.user.username}><${Avatar} name=${r.user.displayName} url=${store.files.url(r.user.avatarFileId)} />
            <span class="person"><span dir="auto">${r.user.displayName}</span> <span class="muted-text">@${r.user.username}</span></span>
            ${r.isFriend
              ? html`<button type="button" onClick=${() => message(r.user.id)}>Message</button>`
              : sent.has(r.user.id) || outgoing.some((o) => o.user.id === r.user.id)
                ? html`<span class="muted-text">Request sent</span>`
                : html`<button type="button" class="primary" onClick=${() => apply(r)}>Add friend</button>`}
          </li>`)}</ul>`}`}
      <h3>Requests to you</h3>
      ${incoming.length === 0 ? html`<p class="muted-text">No pending requests.</p>` : html`<ul class="people">${incoming.map((r) => html`
        <li data-user=${r.user.username}><${Avatar} name=${r.user.displayName} url=${store.files.url(r.user.avatarFileId)} />
          <span class="person"><span dir="auto">${r.user.displayName}</span>${r.message && html` <span class="muted-text" dir="auto">“${r.message}”</span>`}</span>
          <button type="button" class="primary" onClick=${() => accept(r.user.id)} aria-label=${`Accept ${r.user.displayName}`}>Accept</button>
          <button type="button" onClick=${() => reject(r.user.id)} aria-label=${`Reject ${r.user.displayName}`}>Reject</button>
        </li>`)}</ul>`}
      ${outgoing.length > 0 && html`<h3>Your requests</h3><ul class="people">${outgoing.map((r) => html`
        <li><${Avatar} name=${r.user.displayName} url=${store.files.url(r.user.avatarFileId)} /><span class="person" dir="auto">${r.user.displayName}</span><span class="muted-text">waiting</span></li>`)}</ul>`}
      <h3>Your friends</h3>
      ${friends === null ? html`<p class="muted-text">Loading…</p>` : friends.length === 0 ? html`<p class="muted-text">No friends yet.</p>`
        : html`<ul class="people">${friends.map((f) => ({ ...f, user: store.person(f.user) })).map((f) => html`
          <li data-user=${f.user.username}><${Avatar} name=${f.user.displayName} presence=${store.state.presence.get(f.user.id)} url=${store.files.url(f.user.avatarFileId)} />
            <span class="person" dir="auto">${f.alias || f.user.displayName}</span>
            <button type="button" onClick=${() => message(f.user.id)} aria-label=${`Message ${f.user.displayName}`}>Message</button></li>`)}</ul>`}
    </section>`;
}

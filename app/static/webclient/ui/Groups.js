// Groups: create one with friends, see members and roles, invite, promote (owner),
// remove (owner and admins, lower ranks only), leave. Also the details of a direct chat.
import { html, useEffect, useState } from "../lib.js";
import { useApp, useStore, navigate } from "./context.js";
import { Avatar, conversationTitle } from "./Sidebar.js";
import { PhotoPicker } from "./Profile.js";
import { useFriends } from "./Friends.js";
import * as Q from "../queries.js";

const RANK = { OWNER: 3, ADMIN: 2, MEMBER: 1 };

function FriendPicker({ friends, exclude = new Set(), name }) {
  const choices = (friends || []).filter((f) => !exclude.has(f.user.id));
  if (friends === null) return html`<p class="muted-text">Loading friends…</p>`;
  if (!choices.length) return html`<p class="muted-text">No friends to add.</p>`;
  return html`<fieldset class="picker-list"><legend>Friends</legend>${choices.map((f) => html`
    <label class="check"><input type="checkbox" name=${name} value=${f.user.id} />
      <span dir="auto">${f.alias || f.user.displayName}</span></label>`)}</fieldset>`;
}

export function NewGroup() {
  const { api } = useApp();
  const store = useStore();
  const friends = useFriends();
  const [busy, setBusy] = useState(false);
  const create = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      const data = await api.request(Q.GROUP_CREATE, {
        name: String(form.get("name") || "").trim(),
        memberIds: form.getAll("member").map(String),
      });
      const group = data.groupGroupCreate.group;
      if (data.groupGroupCreate.refusedUserIds.length) store.notify("Some friends could not be added (their privacy settings).", "info");
      await store.refreshConversation(group.id);
      navigate(`/c/${group.id}`);
    } catch (err) {
      store.report(err);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section class="page" aria-labelledby="new-group-title">
      <header class="page-header"><a href="#/" class="back" aria-label="Back to conversations">‹</a><h2 id="new-group-title">New group</h2></header>
      <form class="stack" onSubmit=${create}>
        <label for="group-name">Group name</label>
        <input id="group-name" name="name" required maxlength="64" />
        <${FriendPicker} friends=${friends} name="member" />
        <button type="submit" class="primary" disabled=${busy}>Create group</button>
      </form>
    </section>`;
}

function GroupDetails({ conv }) {
  const { api } = useApp();
  const store = useStore();
  const friends = useFriends();
  const group = store.state.groups.get(conv.id);
  useEffect(() => {
    store.loadGroup(conv.id).catch((err) => store.report(err));
  }, [conv.id]);
  if (!group) return html`<p class="muted-text pad">Loading…</p>`;

  const me = store.state.me.id;
  const myRank = RANK[group.myRole] || 0;
  const act = (fn) => async (...args) => {
    try {
      await fn(...args);
      await store.loadGroup(conv.id);
    } catch (err) {
      store.report(err);
    }
  };
  const invite = act(async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const ids = new FormData(form).getAll("invite").map(String);
    if (!ids.length) return;
    const data = await api.request(Q.GROUP_ADD, { id: conv.id, userIds: ids });
    const r = data.groupMemberAdd;
    if (r.pendingUserIds.length) store.notify("Some invitations wait for an admin's approval.", "info");
    if (r.refusedUserIds.length) store.notify("Some friends could not be added.", "info");
    form.reset();
  });
  const setRole = act((userId, role) => api.request(Q.GROUP_ROLE, { id: conv.id, userId, role }));
  const remove = act((userId) => api.request(Q.GROUP_REMOVE, { id: conv.id, userId }));
  const leave = async () => {
    if (!window.confirm("Leave this group?")) return;
    try {
      await api.request(Q.GROUP_LEAVE, { id: conv.id });
      store.forgetConversation(conv.id);
      navigate("/");
    } catch (err) {
      store.report(err);
    }
  };
  const memberIds = new Set(group.members.map((m) => m.userId));
  const mayInvite = myRank >= 2 || group.settings.membersMayInvite;
  const setPhoto = async (fileId) => {
    await api.request(Q.GROUP_AVATAR, { id: conv.id, fileId });
    await Promise.all([store.loadGroup(conv.id), store.refreshConversation(conv.id)]);
  };
  return html`
    <div class="profile-photo">
      <${Avatar} name=${group.name} size="large" url=${store.files.url(group.avatarFileId)} />
      ${myRank >= 2 && html`<${PhotoPicker} purpose="GROUP_AVATAR" current=${group.avatarFileId} apply=${setPhoto} what="the group's photo" />`}
    </div>
    ${group.description && html`<p dir="auto">${group.description}</p>`}
    <h3>Members (${group.memberCount})</h3>
    <ul class="people members">${group.members.map((m) => html`
      <li data-user-id=${m.userId}><${Avatar} name=${store.userName(m.userId)} presence=${store.state.presence.get(m.userId)}
        url=${store.files.url(store.state.users.get(m.userId)?.avatarFileId)} />
        <span class="person"><span dir="auto">${store.userName(m.userId)}</span>${m.userId === me ? " (you)" : ""}</span>
        <span class="role" data-role=${m.role}>${m.role.toLowerCase()}</span>
        ${group.myRole === "OWNER" && m.role === "MEMBER" && html`<button type="button" onClick=${() => setRole(m.userId, "ADMIN")}
          aria-label=${`Make admin: ${store.userName(m.userId)}`}>Make admin</button>`}
        ${group.myRole === "OWNER" && m.role === "ADMIN" && html`<button type="button" onClick=${() => setRole(m.userId, "MEMBER")}
          aria-label=${`Remove admin: ${store.userName(m.userId)}`}>Remove admin</button>`}
        ${m.userId !== me && myRank > RANK[m.role] && myRank >= 2 && html`<button type="button" class="danger" onClick=${() => remove(m.userId)}
          aria-label=${`Remove ${store.userName(m.userId)} from the group`}>Remove</button>`}
      </li>`)}</ul>
    ${mayInvite && html`<form class="stack" onSubmit=${invite} aria-label="Invite friends">
      <h3>Invite friends</h3>
      <${FriendPicker} friends=${friends} exclude=${memberIds} name="invite" />
      <button type="submit">Invite</button></form>`}
    ${group.myRole !== "OWNER" && html`<button type="button" class="danger" onClick=${leave}>Leave group</button>`}`;
}

export function ChannelInfo({ channelId }) {
  const store = useStore();
  const conv = store.state.conversations.get(channelId);
  if (!conv) return html`<p class="muted-text pad">This conversation is not available.</p>`;
  const title = conversationTitle(store, conv);
  const peer = conv.peerId ? store.state.users.get(conv.peerId) : null;
  return html`
    <section class="page" aria-labelledby="info-title">
      <header class="page-header"><a href=${`#/c/${channelId}`} class="back always" aria-label="Back to the chat">‹</a>
        <h2 id="info-title" dir="auto">${title}</h2></header>
      ${conv.kind === "GROUP" ? html`<${GroupDetails} conv=${conv} />`
        : html`<div class="profile-photo"><${Avatar} name=${title} size="large" url=${store.files.url(peer?.avatarFileId)} />
            <p>${peer ? html`<span dir="auto">${peer.displayName}</span> <span class="muted-text">@${peer.username}</span>` : ""}</p></div>`}
    </section>`;
}

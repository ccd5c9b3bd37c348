// The user's own name and photo (#/profile) and, for a group's owner and admins, the
// group's photo. Both are uploaded like any file (tus, with progress) with their own purpose,
// then set; an empty id removes the photo.
import { html, useRef, useState } from "../lib.js";
import { useApp, useStore } from "./context.js";
import { Avatar } from "./Sidebar.js";
import { fileProblem } from "../files.js";
import * as Q from "../queries.js";

/**
 * "Change photo" / "Remove photo", with a progress bar while the picture uploads.
 * @param {object} o
 * @param {"USER_AVATAR"|"GROUP_AVATAR"} o.purpose
 * @param {string|null} o.current   the photo's file id now
 * @param {(fileId: string) => Promise<void>} o.apply   set it ("" removes it)
 * @param {string} o.what   "your photo", "the group's photo" (for labels)
 */
export function PhotoPicker({ purpose, current, apply, what }) {
  const { config } = useApp();
  const store = useStore();
  const input = useRef(null);
  const [progress, setProgress] = useState(null); // 0..100 while uploading
  const [cancel, setCancel] = useState(null);
  const [error, setError] = useState(null);

  const choose = async (file) => {
    setError(null);
    const problem = fileProblem(file, purpose, config.fileLimits || {});
    if (problem) {
      setError(problem);
      return;
    }
    const upload = store.files.upload(file, purpose, { onProgress: (sent, total) => setProgress(Math.round((100 * sent) / total)) });
    setProgress(0);
    setCancel(() => upload.cancel);
    try {
      const fileId = await upload.promise;
      await apply(fileId);
    } catch (err) {
      if (err.code !== "CANCELLED") setError(err.message);
    } finally {
      setProgress(null);
      setCancel(null);
    }
  };
  const remove = async () => {
    setError(null);
    try {
      await apply("");
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<div class="photo-picker">
    <input type="file" ref=${input} class="visually-hidden" accept="image/jpeg,image/png,image/gif,image/webp"
      tabIndex="-1" aria-hidden="true" onChange=${(e) => { const f = e.currentTarget.files[0]; e.currentTarget.value = ""; if (f) choose(f); }} />
    ${progress === null
      ? html`<button type="button" onClick=${() => input.current?.click()}>Change ${what}</button>
          ${current && html` <button type="button" class="ghost" onClick=${remove}>Remove ${what}</button>`}`
      : html`<div class="progress-row"><progress max="100" value=${progress} aria-label=${`Uploading ${what}`}></progress>
          <span class="progress-text" aria-hidden="true">${progress}%</span>
          <button type="button" class="mini" onClick=${() => cancel?.()}>Cancel</button></div>`}
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
  </div>`;
}

export function Profile() {
  const { api } = useApp();
  const store = useStore();
  const me = store.state.users.get(store.state.me.id) || store.state.me;
  const apply = async (fileId) => {
    const data = await api.request(Q.PROFILE_AVATAR, { fileId });
    store.setMyProfile({ avatarFileId: data.accountProfileUpdate.profile.avatarFileId });
  };
  return html`<section class="page" aria-labelledby="profile-title">
    <header class="page-header"><a href="#/" class="back always" aria-label="Back to conversations">‹</a>
      <h2 id="profile-title">Your profile</h2></header>
    <div class="profile-photo">
      <${Avatar} name=${me.displayName || me.username} size="large" url=${store.files.url(me.avatarFileId)} />
      <div>
        <p><strong dir="auto">${me.displayName || me.username}</strong> <span class="muted-text">@${me.username}</span></p>
        <${PhotoPicker} purpose="USER_AVATAR" current=${me.avatarFileId} apply=${apply} what="your photo" />
      </div>
    </div>
    <${NameForm} current=${me.displayName || ""} />
  </section>`;
}

/** The display name friends and groups see (they are told at once: UserProfileChangedEvent). */
function NameForm({ current }) {
  const { api } = useApp();
  const store = useStore();
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const save = async (event) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get("displayName") || "").trim();
    if (!name || name === current) return;
    setBusy(true);
    setError(null);
    try {
      const data = await api.request(Q.PROFILE_NAME, { name });
      store.setMyProfile({ displayName: data.accountProfileUpdate.profile.displayName });
    } catch (err) {
      setError(err.message || "The name could not be saved.");
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="inline-form name-form" onSubmit=${save}>
    <label for="display-name">Display name</label>
    <input id="display-name" name="displayName" defaultValue=${current} maxlength="64" autocomplete="nickname" dir="auto" required />
    <button type="submit" class="primary" disabled=${busy}>Save name</button>
    ${error && html`<p class="form-error" role="alert">${error}</p>`}
  </form>`;
}

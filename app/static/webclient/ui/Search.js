// Search the text of messages in all conversations, newest first.
import { html, useState } from "../lib.js";
import { useApp, useStore } from "./context.js";
import { conversationTitle } from "./Sidebar.js";
import { shortTime } from "../format.js";
import { messagePreview } from "../store.js";
import * as Q from "../queries.js";

export function Search() {
  const { api } = useApp();
  const store = useStore();
  const [results, setResults] = useState(null);
  const [busy, setBusy] = useState(false);
  const search = async (event) => {
    event.preventDefault();
    const q = String(new FormData(event.currentTarget).get("q") || "").trim();
    if (!q) return;
    setBusy(true);
    try {
      const data = await api.request(Q.MESSAGE_SEARCH, { q, cursor: null });
      setResults(data.messageHistorySearch.messages);
    } catch (err) {
      store.report(err);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <section class="page" aria-labelledby="search-title">
      <header class="page-header"><a href="#/" class="back" aria-label="Back to conversations">‹</a><h2 id="search-title">Search messages</h2></header>
      <form class="inline-form" role="search" onSubmit=${search}>
        <label for="message-search">Words to find</label>
        <input id="message-search" name="q" type="search" autocomplete="off" />
        <button type="submit" class="primary" disabled=${busy}>Search</button>
      </form>
      ${results && (results.length === 0 ? html`<p class="muted-text" role="status">No messages found.</p>`
        : html`<ul class="results" aria-label="Matching messages">${results.map((m) => html`
          <li><a href=${`#/c/${m.channelId}`}>
            <span class="result-where" dir="auto">${conversationTitle(store, store.state.conversations.get(m.channelId)) || "Conversation"}
              · ${store.userName(m.senderId)}</span>
            <span class="result-text" dir="auto">${messagePreview(m)}</span>
            <time datetime=${m.createdAt}>${shortTime(m.createdAt)}</time></a></li>`)}</ul>`)}
    </section>`;
}

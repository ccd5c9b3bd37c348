// Entry point: read the page's settings, then run the app. One Store and one SyncEngine
// per logged-in session; logging out (or being logged out) throws both away.
import { html, render, useEffect, useState } from "./lib.js";
import { Api } from "./api.js";
import { Store } from "./store.js";
import { SyncEngine } from "./sync.js";
import { AppContext } from "./ui/context.js";
import { App } from "./ui/App.js";

const config = JSON.parse(document.getElementById("privchat-config").textContent);
const api = new Api({ graphqlPath: config.graphqlPath });

function startSession() {
  const store = new Store(api, { fileLimits: config.fileLimits });
  const sync = new SyncEngine(api, store);
  sync.start();
  return { store, sync };
}

function Root() {
  const [session, setSession] = useState(() => (api.session ? startSession() : null));

  useEffect(() => {
    if (!session) return undefined;
    const { store } = session;
    const online = () => {
      store.state.online = navigator.onLine;
      store.changed();
      if (!navigator.onLine) session.sync.dropConnection(); // graphql-ws retries until it is back
    };
    const visible = () => { if (store.state.activeId) store.scheduleRead(store.state.activeId); };
    window.addEventListener("online", online);
    window.addEventListener("offline", online);
    document.addEventListener("visibilitychange", visible);
    // For tests and the benchmark (tests/e2e/web_client.mjs): a read-only view of the state.
    window.__privchat = { store, sync: session.sync };
    return () => {
      window.removeEventListener("online", online);
      window.removeEventListener("offline", online);
      document.removeEventListener("visibilitychange", visible);
    };
  }, [session]);

  const start = () => setSession(startSession());
  const stop = () => {
    session?.sync.stop();
    setSession(null);
  };
  return html`<${AppContext.Provider} value=${{ api, config, store: session?.store, sync: session?.sync }}>
    <${App} start=${start} stop=${stop} />
  </${AppContext.Provider}>`;
}

document.getElementById("root").textContent = "";
render(html`<${Root} />`, document.getElementById("root"));

// Log in or create an account. The device is named after the browser ("Chrome on Linux").
import { html, useState } from "../lib.js";
import { useApp } from "./context.js";

export function Login({ reason, onLoggedIn }) {
  const { api } = useApp();
  const [mode, setMode] = useState("login");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const registering = mode === "register";

  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const fields = {
      username: String(form.get("username") || "").trim(),
      password: String(form.get("password") || ""),
      displayName: String(form.get("displayName") || "").trim(),
    };
    setBusy(true);
    setError(null);
    try {
      const user = registering ? await api.register(fields) : await api.login(fields);
      onLoggedIn(user);
    } catch (err) {
      setError(err.message || "Could not reach the server");
    } finally {
      setBusy(false);
    }
  };

  return html`
    <main class="login" id="main">
      <form class="login-card" onSubmit=${submit} aria-labelledby="login-title">
        <h1 id="login-title">${registering ? "Create your PrivChat account" : "Log in to PrivChat"}</h1>
        ${reason && html`<p class="login-reason" role="status">${reason}</p>`}
        <label for="login-username">Username</label>
        <input id="login-username" name="username" autocomplete="username" required autofocus
          autocapitalize="none" spellcheck="false" maxlength="64" />
        ${registering && html`
          <label for="login-display">Display name</label>
          <input id="login-display" name="displayName" autocomplete="nickname" maxlength="64" />`}
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" required minlength=${registering ? 8 : 1}
          autocomplete=${registering ? "new-password" : "current-password"} />
        ${error && html`<p class="form-error" role="alert">${error}</p>`}
        <button type="submit" class="primary" disabled=${busy}>
          ${busy ? "Please wait…" : registering ? "Create account" : "Log in"}
        </button>
        <button type="button" class="link" onClick=${() => { setMode(registering ? "login" : "register"); setError(null); }}>
          ${registering ? "I already have an account" : "Create an account"}
        </button>
      </form>
    </main>`;
}

// Files, as a browser handles them (docs/FILES.md): uploads go over tus (tus-js-client) to
// the service port, to the `uploadUrl` the server hands out, which carries its own token
// (no Authorization header leaves the page for another origin). Files are shown and
// downloaded through signed links (`fileGetUrl`), which need no header either, so an
// <img src> or a plain link works. Nothing here knows about chats: see store.js.
import { Upload } from "./vendor/tus.js";
import { ApiError } from "./api.js";
import * as Q from "./queries.js";

/** The image formats the server accepts as images (and turns into thumbnails). */
export const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const URL_MARGIN_MS = 60_000; // a signed link this close to its end is asked for again
const URL_BATCH = 25; // aliases per request (the server allows 30)

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** What a chosen file becomes: an image message, or a file (any type). */
export function attachmentKind(file) {
  return IMAGE_TYPES.includes(file.type) ? "image" : "file";
}

/**
 * Why this file cannot be sent (a sentence for the user), or null. The server checks the
 * same and more (the bytes themselves); this spares the user an upload that would fail.
 * @param {File} file
 * @param {"MESSAGE"|"USER_AVATAR"|"GROUP_AVATAR"} purpose
 * @param {{upload: number, image: number, audio: number, video: number, avatar: number}} limits
 */
export function fileProblem(file, purpose, limits) {
  if (file.size === 0) return `“${file.name}” is empty.`;
  const avatar = purpose !== "MESSAGE";
  if (avatar && !IMAGE_TYPES.includes(file.type)) {
    return `“${file.name}” cannot be a photo: choose a JPEG, PNG, GIF or WebP image.`;
  }
  if (!avatar && file.type.startsWith("image/") && !IMAGE_TYPES.includes(file.type) && file.type !== "image/svg+xml") {
    return `“${file.name}” is an image format the server does not take (${file.type}): send a JPEG, PNG, GIF or WebP image.`;
  }
  const kind = avatar ? "avatar" : file.type.split("/")[0];
  const limit = limits[kind] ?? limits.upload;
  if (limit && file.size > limit) {
    const what = avatar ? "a photo" : { image: "an image", audio: "an audio file", video: "a video" }[kind] || "a file";
    return `“${file.name}” is ${formatBytes(file.size)}: ${what} may be at most ${formatBytes(limit)}.`;
  }
  return null;
}

/** The declared media type: the browser's guess, or "let the server sniff it". */
function declaredType(file) {
  const type = file.type || "application/octet-stream";
  // An SVG is a document that can hold script: it travels as an opaque file.
  return type === "image/svg+xml" ? "application/octet-stream" : type;
}

/** The server's refusal in a failed tus request ({"error": {"code", "message"}}), as an ApiError. */
function uploadError(err) {
  const response = err?.originalResponse;
  if (response) {
    let body = null;
    try {
      body = JSON.parse(response.getBody() || "null");
    } catch (_) {
      /* not JSON: a proxy's page */
    }
    const status = response.getStatus();
    if (body?.error) return new ApiError(body.error.message, body.error.code, { retryable: status >= 500 });
    return new ApiError(`The upload failed (the server answered ${status})`, "NETWORK", { retryable: status >= 500 });
  }
  return new ApiError("The upload failed: the server cannot be reached", "NETWORK", { retryable: true });
}

export class Files {
  /** @param {import("./api.js").Api} api  @param {() => void} changed  called when a link arrives */
  constructor(api, changed) {
    this.api = api;
    this.changed = changed;
    this.urls = new Map(); // fileId -> {url, until} | {pending: true} | {failed: true}
    this.queue = new Set();
  }

  /**
   * Upload one file. Returns {promise, cancel}: the promise gives the published file's id
   * (the last PATCH publishes it: the server has checked the bytes) or an ApiError; cancel
   * stops the transfer and asks the server to drop what it received (tus termination).
   * @param {File} file
   * @param {string} purpose  MESSAGE, USER_AVATAR, GROUP_AVATAR
   * A failed upload's error may carry `resume` ({fileId, url}): pass it back to continue
   * from the bytes the server already has (tus HEAD), instead of starting over.
   * @param {{onProgress?: (sent: number, total: number) => void, resume?: {fileId: string, url: string}}} [o]
   */
  upload(file, purpose, { onProgress = () => {}, resume = null } = {}) {
    let upload = null;
    let cancelled = false;
    const promise = (async () => {
      let ticket = resume ? { fileId: resume.fileId, uploadUrl: null } : null;
      if (!ticket) {
        const data = await this.api.request(Q.FILE_UPLOAD_TOKEN, {
          input: { name: file.name || "file", size: file.size, mime: declaredType(file), purpose },
        });
        ticket = data.fileRequestUploadToken;
      }
      if (cancelled) throw new ApiError("Upload cancelled", "CANCELLED");
      await new Promise((resolve, reject) => {
        upload = new Upload(file, {
          endpoint: ticket.uploadUrl,
          uploadUrl: resume?.url ?? null, // resume: tus asks the server for its offset first
          retryDelays: [0, 1000, 3000, 5000, 10000],
          // The token in the URL is single-use: nothing to resume from another page load.
          storeFingerprintForResuming: false,
          metadata: { filename: file.name || "file", filetype: declaredType(file) },
          onProgress: (sent, total) => onProgress(sent, total),
          onSuccess: () => resolve(),
          // Retry what a retry can fix (the network, a 5xx, a busy upload); not a refusal.
          onShouldRetry: (err) => {
            const status = err?.originalResponse?.getStatus() ?? 0;
            return status === 0 || status >= 500 || status === 409 || status === 423;
          },
          onError: (err) => {
            const error = uploadError(err);
            // The transfer can go on later from where the server stopped (a network failure).
            if (error.retryable && upload.url) error.resume = { fileId: ticket.fileId, url: upload.url };
            reject(error);
          },
        });
        upload.start();
      });
      return ticket.fileId;
    })();
    const cancel = () => {
      cancelled = true;
      if (upload) upload.abort(true).catch(() => {}); // DELETE: the server frees the space
    };
    return { promise, cancel };
  }

  /**
   * A signed link to a file (to show or download it), or null while it is being asked
   * for: `changed` is called when it arrives. Links are asked for in batches and reused
   * until shortly before they expire.
   */
  url(fileId) {
    if (!fileId) return null;
    const entry = this.urls.get(fileId);
    if (entry?.url && entry.until > Date.now()) return entry.url;
    if (entry?.pending || entry?.failed) return entry.url ?? null;
    this.urls.set(fileId, { ...entry, pending: true });
    this.queue.add(fileId);
    if (this.queue.size === 1) setTimeout(() => this.fetchUrls(), 0);
    return entry?.url ?? null;
  }

  /** A link good for a while still: asked for again when the one we have is (nearly) expired. */
  async freshUrl(fileId) {
    const entry = this.urls.get(fileId);
    if (entry?.url && entry.until > Date.now()) return entry.url;
    await this.fetchOne(fileId);
    this.changed();
    return this.urls.get(fileId)?.url ?? null;
  }

  async fetchUrls() {
    const ids = [...this.queue];
    this.queue.clear();
    for (let i = 0; i < ids.length; i += URL_BATCH) {
      const chunk = ids.slice(i, i + URL_BATCH);
      const fields = chunk.map((id, n) => `f${n}: fileGetUrl(input: {fileId: ${JSON.stringify(String(id))}}) { url expiresAt }`);
      try {
        const data = await this.api.request(`query FileUrls { ${fields.join("\n")} }`);
        chunk.forEach((id, n) => {
          const got = data[`f${n}`];
          this.urls.set(id, { url: got.url, until: Date.parse(got.expiresAt) - URL_MARGIN_MS });
        });
      } catch (err) {
        // One file we may not read (recalled meanwhile) fails the whole batch: ask one by one.
        for (const id of chunk) await this.fetchOne(id);
      }
      this.changed();
    }
  }

  async fetchOne(id) {
    try {
      const data = await this.api.request(Q.FILE_URL, { id });
      this.urls.set(id, { url: data.fileGetUrl.url, until: Date.parse(data.fileGetUrl.expiresAt) - URL_MARGIN_MS });
    } catch (err) {
      // Not readable (any more): show the placeholder; retried after a while if the network failed.
      this.urls.set(id, { failed: true });
      if (err instanceof ApiError && err.retryable) setTimeout(() => this.urls.delete(id), 10_000);
    }
  }
}

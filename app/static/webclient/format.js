// Text and time for people: the user's locale, links made clickable without ever
// interpreting the text as HTML.
import { html } from "./lib.js";

// The locale's own short time: "00:10" in en-GB, "12:10 AM" in en-US (hour "numeric" gave "0:10").
const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/** "14:05" today, "Mar 3" before: in the user's own locale and time zone. */
export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFmt.format(d) : dayFmt.format(d);
}

export function timeOfDay(iso) {
  return iso ? timeFmt.format(new Date(iso)) : "";
}

export function fullTime(iso) {
  return iso ? fullFmt.format(new Date(iso)) : "";
}

// http(s) links only: a "javascript:" or "data:" text never becomes a link target.
const LINK = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/giu;

/**
 * The message text as Preact children: plain strings (rendered as text nodes, so "<b>"
 * shows as "<b>") and <a> elements for http(s) URLs.
 */
export function richText(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    let url;
    try {
      url = new URL(match[0]);
    } catch (_) {
      parts.push(match[0]);
      last = match.index + match[0].length;
      continue;
    }
    parts.push(html`<a href=${url.href} target="_blank" rel="noopener noreferrer nofollow">${match[0]}</a>`);
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** Initials for an avatar ("Ann Lee" -> "AL"), from letters only. */
export function initials(name) {
  const words = (name || "?").trim().split(/\s+/u).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => Array.from(w)[0] || "");
  return letters.join("").toUpperCase() || "?";
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// A windowed list: only the rows near the viewport are in the DOM, so a chat with 10,000
// loaded messages or a list of 500 conversations renders as fast as one with 30.
// Rows may have any height: each is measured once shown (estimated before that).
//
// Chat behaviour: `stickToBottom` keeps the newest row in view while the reader is at the
// bottom; `anchored` keeps the row the reader is looking at in place when rows are added
// above it (older history) or when estimated heights get measured.
import { html, useLayoutEffect, useRef, useState, useCallback } from "../lib.js";

function offsetsOf(items, keyOf, heights, estimate) {
  const offsets = new Array(items.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < items.length; i++) offsets[i + 1] = offsets[i] + (heights.get(keyOf(items[i])) ?? estimate);
  return offsets;
}

/** The first index whose row ends below `y`. */
function indexAt(offsets, y) {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid + 1] <= y) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(0, lo);
}

export function VirtualList({
  items, keyOf, renderItem, estimate = 60, overscan = 600, stickToBottom = false, anchored = false,
  onNearTop = null, className = "", label, role = "list", rowRole = "listitem", tabIndex = undefined, listRef = null,
}) {
  const ref = useRef(null);
  const heights = useRef(new Map()).current;
  const atBottom = useRef(true);
  const anchor = useRef(null);
  const layout = useRef({ offsets: [0], index: new Map() });
  const [, setTick] = useState(0);
  const rerender = useCallback(() => setTick((t) => t + 1), []);

  const offsets = offsetsOf(items, keyOf, heights, estimate);
  const index = new Map();
  items.forEach((item, i) => index.set(keyOf(item), i));
  layout.current = { offsets, index };

  const el = ref.current;
  const top = el ? el.scrollTop : stickToBottom ? offsets[items.length] : 0;
  const viewport = el ? el.clientHeight : 800;
  const start = items.length ? indexAt(offsets, Math.max(0, top - overscan)) : 0;
  const end = items.length ? Math.min(items.length, indexAt(offsets, top + viewport + overscan) + 1) : 0;

  const remember = () => {
    const node = ref.current;
    if (!node) return;
    const { offsets: o } = layout.current;
    atBottom.current = node.scrollHeight - node.scrollTop - node.clientHeight < 48;
    if (anchored && items.length) {
      const i = indexAt(o, node.scrollTop);
      anchor.current = { key: keyOf(items[i]), delta: o[i] - node.scrollTop };
    }
  };

  useLayoutEffect(() => {
    const node = ref.current;
    if (!node) return;
    let measured = false;
    for (const row of node.querySelectorAll(":scope > .vl-inner > .vl-window > [data-vkey]")) {
      const h = row.offsetHeight;
      if (h && heights.get(row.dataset.vkey) !== h) {
        heights.set(row.dataset.vkey, h);
        measured = true;
      }
    }
    if (measured) {
      rerender(); // offsets changed: lay out again, then restore the position below
      return;
    }
    if (stickToBottom && atBottom.current) {
      node.scrollTop = node.scrollHeight;
    } else if (anchored && anchor.current) {
      const i = index.get(anchor.current.key);
      if (i !== undefined) {
        const want = offsets[i] - anchor.current.delta;
        if (Math.abs(node.scrollTop - want) > 1) node.scrollTop = want;
      }
    }
    remember();
    if (onNearTop && node.scrollTop < viewport && items.length) onNearTop();
  });

  const onScroll = () => {
    remember();
    rerender();
    const node = ref.current;
    if (onNearTop && node && node.scrollTop < node.clientHeight) onNearTop();
  };

  const setRef = (node) => {
    ref.current = node;
    if (listRef) listRef.current = node;
  };

  const rows = [];
  for (let i = start; i < end; i++) {
    const item = items[i];
    const key = keyOf(item);
    rows.push(html`<div key=${key} data-vkey=${key} class="vl-row" role=${rowRole || undefined}>${renderItem(item, i)}</div>`);
  }
  return html`
    <div ref=${setRef} class=${`vl ${className}`} onScroll=${onScroll} role=${role} aria-label=${label} tabIndex=${tabIndex}>
      <div class="vl-inner" style=${{ height: `${offsets[items.length]}px` }}>
        <div class="vl-window" style=${{ transform: `translateY(${offsets[start]}px)` }}>${rows}</div>
      </div>
    </div>`;
}

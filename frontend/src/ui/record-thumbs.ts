// The per-example record's example tiles: a thumbnail cut from the record's
// PNG pages (example_thumbnail, placed by logic/members.ts tilePlace), or the
// example's index where it has none; and the pager the lists share.
import { routeUrl, type ThumbRef } from "../api";
import { pageButtons, pageCount, pageLabel, PAGE_SIZE, tilePlace } from "../logic/members";
import { h } from "./dom";
import type { DataStore } from "./store";

/** What one tile shows: the example, its thumbnail (if any) and lines of numbers under it. */
export interface TileItem { index: number; thumbnail: ThumbRef | null; lines: string[]; title: string; data?: Record<string, string | number> }

/** A canvas with the thumbnail `ref` of (run, tag), drawn once its page has loaded; resolves true when drawn. */
export function thumbCanvas(store: DataStore, run: string, tag: string, ref: ThumbRef, label: string): { el: HTMLCanvasElement; drawn: Promise<boolean> } {
  const el = h("canvas", { class: "rec-thumb", role: "img", "aria-label": label, width: 28, height: 28 });
  const drawn = store.thumbLayout(run, tag, ref.step).load().then(async (g) => {
    const at = tilePlace(ref.tile, g);
    const img = await store.sprite(routeUrl("example_thumbnail", { run, tag, step: ref.step, page: at.page })).load();
    el.width = g.tile_width;
    el.height = g.tile_height;
    const ctx = el.getContext("2d");
    if (!ctx) return false;
    ctx.drawImage(img, at.x, at.y, g.tile_width, g.tile_height, 0, 0, g.tile_width, g.tile_height);
    el.dataset.drawn = "true";
    return true;
  }).catch(() => {
    el.dataset.drawn = "failed";
    return false;
  });
  return { el, drawn };
}

/** A tile of the example grid: a button (`onPick` on click) holding the thumbnail or, without one, the index. */
export function exampleTile(store: DataStore, run: string, tag: string, item: TileItem, onPick: ((index: number) => void) | null,
  drawn: Promise<boolean>[]): HTMLElement {
  let picture: HTMLElement;
  if (item.thumbnail) {
    const t = thumbCanvas(store, run, tag, item.thumbnail, item.title);
    drawn.push(t.drawn);
    picture = t.el;
  } else {
    picture = h("span", { class: "rec-no-thumb", title: "No thumbnail kept for this example (byte budget)" }, `#${item.index}`);
  }
  const attrs: Record<string, string | number> = { class: "rec-tile", "data-index": item.index, title: item.title, ...(item.data ?? {}) };
  const el = onPick ? h("button", { type: "button", ...attrs }) : h("div", attrs);
  el.append(picture, h("span", { class: "rec-index" }, `#${item.index}`), ...item.lines.map((l) => h("span", { class: "muted" }, l)));
  if (onPick) el.addEventListener("click", () => onPick(item.index));
  return el;
}

/** "1-48 of 1,234" and page buttons; `onPage(offset)` on a click. */
export function pager(id: string, offset: number, shown: number, total: number, onPage: (offset: number) => void, size = PAGE_SIZE): HTMLElement {
  const current = Math.floor(offset / size), count = pageCount(total, size);
  const nav = h("nav", { class: "rec-pager", id, "aria-label": "Pages", "data-offset": offset, "data-total": total },
    h("span", { class: "rec-range" }, pageLabel(offset, shown, total)));
  if (count <= 1) return nav;
  const button = (label: string, page: number, disabled: boolean, extra: Record<string, string> = {}) => {
    const b = h("button", { type: "button", "data-page": page, ...extra }, label);
    b.disabled = disabled;
    b.addEventListener("click", () => onPage(page * size));
    return b;
  };
  nav.appendChild(button("‹ Prev", current - 1, current === 0, { "aria-label": "Previous page", class: "rec-prev" }));
  for (const p of pageButtons(current, count)) {
    nav.appendChild(p === null ? h("span", { class: "muted" }, "…")
      : button(String(p + 1), p, false, p === current ? { "aria-current": "page", class: "rec-page" } : { class: "rec-page" }));
  }
  nav.appendChild(button("Next ›", current + 1, current >= count - 1, { "aria-label": "Next page", class: "rec-next" }));
  return nav;
}

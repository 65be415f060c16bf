// Card "Examples" of a run with the per-example record: every member of the
// selected cell at the shown step, a paged grid sorted by confidence or by
// the probability of the given label; a click on an example opens its
// history strip (example-history.ts) and outlines its cell in the panel.
import type { MembersResponse, RecordItem } from "../api";
import { formatProbability } from "../logic/format";
import { PAGE_SIZE } from "../logic/members";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { clear, h } from "./dom";
import { historyStrip } from "./example-history";
import { exampleTile, pager, type TileItem } from "./record-thumbs";
import type { Cell, PanelView } from "./state";
import type { RecordPaging } from "./store";

const SORTS: [string, string][] = [
  ["confidence|desc", "Confidence, high → low"], ["confidence|asc", "Confidence, low → high"],
  ["p_given|desc", "p(given), high → low"], ["p_given|asc", "p(given), low → high"],
];

/** A record item as a tile: index, p(given) and top-1 confidence. */
export function recordTile(item: RecordItem, names: string[]): TileItem {
  const pred = item.predicted === null ? "left out" : names[item.predicted] ?? String(item.predicted);
  return {
    index: item.index, thumbnail: item.thumbnail,
    lines: [`p(given) ${formatProbability(item.p_given)}`, `conf ${formatProbability(item.confidence)}`],
    title: `#${item.index}: given ${names[item.label] ?? item.label}, predicted ${pred}; click for its history`,
    data: { "data-p-given": item.p_given ?? "NaN", "data-confidence": item.confidence ?? "NaN" },
  };
}

/** Mark the time of the first thumbnails drawn after a cell click (the benchmark's measure "tbc-cell-thumbs"). */
export function markThumbsDrawn(drawn: Promise<boolean>[]): void {
  if (drawn.length === 0 || performance.getEntriesByName("tbc-cell-click", "mark").length === 0) return;
  void Promise.race(drawn).then(() => {
    if (performance.getEntriesByName("tbc-cell-click", "mark").length === 0) return;
    requestAnimationFrame(() => {
      // another page drawn meanwhile may have measured this click already
      if (performance.getEntriesByName("tbc-cell-click", "mark").length === 0) return;
      performance.measure("tbc-cell-thumbs", "tbc-cell-click");
      performance.clearMarks("tbc-cell-click");
    });
  });
}

export class MembersCard {
  private key = "";
  private paging: RecordPaging = { sort: "confidence", order: "desc", offset: 0, limit: PAGE_SIZE };

  constructor(private ctx: CardContext) {
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !e.defaultPrevented && this.ctx.state.example) this.closeHistory();
    });
  }

  render(v: PanelView, sel: Cell): HTMLElement {
    const { state } = this.ctx;
    const el = card("tbc-examples", "Examples of the selected cell", "Examples");
    el.setAttribute("aria-live", "polite");
    el.dataset.record = "true";
    el.appendChild(h("div", { class: "hint", id: "tbc-examples-title" },
      `True ${v.names[sel.t]} → predicted ${v.names[sel.p]}, run ${v.run}, step ${v.step}: every member of the cell`));
    const key = [v.run, v.tag, v.step, sel.t, sel.p].join("\u0000");
    if (key !== this.key) { this.key = key; this.paging.offset = 0; }
    const sort = h("select", { id: "tbc-members-sort", "aria-label": "Sort the examples by" });
    for (const [value, label] of SORTS) sort.appendChild(h("option", { value, selected: value === `${this.paging.sort}|${this.paging.order}` }, label));
    sort.addEventListener("change", () => {
      const [s, o] = sort.value.split("|");
      this.paging = { ...this.paging, sort: s as RecordPaging["sort"], order: o as RecordPaging["order"], offset: 0 };
      this.ctx.actions.redrawDetails();
      document.getElementById("tbc-members-sort")?.focus();
    });
    el.appendChild(h("div", { class: "rec-controls" }, h("label", {}, "Sort ", sort)));
    const body = h("div", { class: "rec-members" });
    el.appendChild(body);
    const paging = { ...this.paging };
    fillWhenLoaded(body, this.ctx.store.members(v.run, v.tag, v.step, sel, paging), "the cell's examples", (m) => this.fill(body, v, m, paging));
    const ex = state.example;
    if (ex && ex.tag === v.tag) el.appendChild(this.history(v));
    return el;
  }

  private fill(body: HTMLElement, v: PanelView, m: MembersResponse, paging: RecordPaging): void {
    clear(body);
    if (m.total === 0) {
      body.appendChild(h("p", { class: "muted", "data-empty": "true" }, `No example of the record is in this cell at step ${v.step}.`));
      return;
    }
    const onPage = (offset: number) => { this.paging.offset = offset; this.ctx.actions.redrawDetails(); };
    const grid = h("div", { class: "rec-grid", id: "tbc-members", "data-total": m.total, "data-offset": m.offset, "data-step": m.step });
    const drawn: Promise<boolean>[] = [];
    for (const item of m.items) grid.appendChild(exampleTile(this.ctx.store, v.run, v.tag, recordTile(item, v.names), (i) => this.pick(v, i), drawn));
    body.append(pager("tbc-members-pager", paging.offset, m.items.length, m.total, onPage), grid);
    markThumbsDrawn(drawn);
  }

  /** Open the history of example `index` of `v`'s run. */
  private pick(v: PanelView, index: number): void {
    const { state, store, actions } = this.ctx;
    state.example = { run: v.run, tag: v.tag, index, history: null };
    actions.redrawDetails();
    store.exampleHistory(v.run, v.tag, index).load().then((history) => {
      const ex = state.example;
      if (!ex || ex.run !== v.run || ex.tag !== v.tag || ex.index !== index) return;
      ex.history = history;
      actions.redraw(); // the panels outline its cell, the strip draws
    }, () => actions.redrawDetails());
  }

  private closeHistory(): void {
    this.ctx.state.example = null;
    this.ctx.actions.redraw();
  }

  private history(v: PanelView): HTMLElement {
    const { state, store } = this.ctx;
    const ex = state.example!;
    const box = h("div", { class: "rec-history-box" });
    if (ex.history) {
      const step = ex.run === v.run ? v.step : ex.history.steps[ex.history.steps.length - 1];
      box.appendChild(historyStrip(store, ex.run, ex.tag, v.names, ex.history, step, () => this.closeHistory()));
    } else {
      fillWhenLoaded(box, store.exampleHistory(ex.run, ex.tag, ex.index), `the history of example ${ex.index}`, () => undefined);
    }
    return box;
  }
}

// Card "Suspected label errors": the examples confident learning flags as
// likely mislabeled at the shown step. It says how many label issues were
// estimated in all (the label_issues route) and how the listed ones are
// ordered (lowest probability of the given label first); a matrix of the
// listed suspects by given label (rows) and suggested label (columns), its
// own and not the confusion matrix's (a suggested label is not the predicted
// class); and the suspects' thumbnails with given → suggested label and
// p(given). The list follows the selected confusion cell's true class (its
// given label), a given class, a clicked given → suggested pair, or all.
import { ApiError, type LabelIssuesResponse, type Suspect, type SuspectsResponse } from "../api";
import { hasKind } from "../logic/diagnostics";
import { formatCount, formatProbability } from "../logic/format";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { h, option } from "./dom";
import { describeError } from "./messages";
import type { Cell, PanelView } from "./state";
import { spriteUrl, tileCanvas } from "./thumbs";

/** Suspects drawn before a "Show all" button. */
const SHOWN_LIMIT = 60;
/** Above this many given (or suggested) classes with suspects, the pairs are listed instead of drawn as a matrix. */
const MATRIX_LIMIT = 24;

/** "cell": the selected cell's true class (all when none); "all"; a given class; or a given → suggested pair. */
type Filter = "cell" | "all" | number | { given: number; suggested: number };

export class SuspectsCard {
  private filter: Filter = "cell";
  private showAll = false;
  /** The confusion cell selected at the last render: another one brings the filter back to "cell". */
  private lastCell = "";

  constructor(private ctx: CardContext) {}

  render(v: PanelView): HTMLElement {
    const { state, store } = this.ctx;
    const el = card("tbc-suspects", "Suspected label errors", "Suspected label errors");
    el.setAttribute("aria-live", "polite");
    const cell = state.selectedCellOf(v);
    const cellKey = cell ? `${v.run}\u0000${cell.t}` : "";
    if (cellKey !== this.lastCell) { this.filter = "cell"; this.showAll = false; }
    this.lastCell = cellKey;
    if (typeof this.filter === "number" && this.filter >= v.names.length) this.filter = "cell";
    if (typeof this.filter === "object" && Math.max(this.filter.given, this.filter.suggested) >= v.names.length) this.filter = "cell";
    el.appendChild(h("div", { class: "toolbar" }, h("label", {}, "Show ", this.filterSelect(v, cell))));
    const body = h("div", { class: "suspects-body", "data-step": v.step });
    el.appendChild(body);
    const estimated = hasKind(state.info(v.run, v.tag)?.diagnostics, "label_issues") ? store.labelIssues(v.run, v.tag, v.step) : null;
    fillWhenLoaded(body, store.suspects(v.run, v.tag, v.step), "suspects", (r) => {
      if (!estimated) { this.fill(body, v, r, null, cell); return; }
      // without the estimate, the card still lists the suspects
      fillWhenLoaded(body, estimated, "the label issues", (issues) => this.fill(body, v, r, issues, cell),
        () => { this.fill(body, v, r, null, cell); return "The estimated number of label issues could not be loaded."; });
    }, (e) => e instanceof ApiError && e.status === 404
      ? `No suspects were logged at step ${v.step} (${e.message}).`
      : `Could not load the suspects: ${describeError(e)}`);
    return el;
  }

  private filterSelect(v: PanelView, cell: Cell | null): HTMLSelectElement {
    const f = this.filter;
    const select = h("select", { id: "tbc-suspects-filter", "aria-label": "Which suspects" });
    select.append(option("cell", cell ? `Given label ${v.names[cell.t]} (the selected cell's true class)` : "Selected cell's true class (none: all)", f === "cell"),
      option("all", "All classes", f === "all"));
    if (typeof f === "object") select.appendChild(option("pair", `Given ${v.names[f.given]} → suggested ${v.names[f.suggested]}`, true));
    v.names.forEach((name, i) => select.appendChild(option(String(i), `Given label: ${name}`, f === i)));
    select.addEventListener("change", () => {
      if (select.value === "pair") return;
      this.setFilter(select.value === "cell" || select.value === "all" ? select.value : Number(select.value));
    });
    return select;
  }

  private setFilter(filter: Filter): void {
    this.filter = filter;
    this.showAll = false;
    this.ctx.actions.redrawDetails();
  }

  /** Whether suspect `s` passes the filter (`cell`: the selected confusion cell). */
  private keeps(s: Suspect, cell: Cell | null): boolean {
    const f = this.filter;
    if (f === "all" || (f === "cell" && !cell)) return true;
    if (f === "cell") return s.given === cell!.t;
    if (typeof f === "number") return s.given === f;
    return s.given === f.given && s.suggested === f.suggested;
  }

  /** What the filter keeps, in words (empty for all). */
  private which(v: PanelView, cell: Cell | null): string {
    const f = this.filter;
    if (f === "all" || (f === "cell" && !cell)) return "";
    if (typeof f === "object") return `with given label ${v.names[f.given]} and suggested ${v.names[f.suggested]}`;
    return `with given label ${v.names[f === "cell" ? cell!.t : f]}`;
  }

  private fill(body: HTMLElement, v: PanelView, r: SuspectsResponse, issues: LabelIssuesResponse | null, cell: Cell | null): void {
    const total = issues ? issues.total : r.total;
    const kept = r.suspects.filter((s) => this.keeps(s, cell));
    const which = this.which(v, cell);
    body.appendChild(h("p", {
      class: "hint suspects-summary", id: "tbc-suspects-counts", "data-total": r.total, "data-estimated": total, "data-listed": r.listed, "data-shown": kept.length,
    },
    `Confident learning estimates ${formatCount(total)} label issue${total === 1 ? "" : "s"} in all at step ${r.step}. `
    + `${r.listed < total ? `The ${formatCount(r.listed)} most likely are listed` : `All ${formatCount(r.listed)} are listed`}, `
    + "the lowest probability p(given) that the model gives the given label first."
    + `${which ? ` Shown: ${formatCount(kept.length)} ${which}.` : ""}`));
    if (r.inexact_rows > 0) {
      body.appendChild(h("p", { class: "hint" }, `${formatCount(r.inexact_rows)} rows were ranked from their largest probabilities only and may differ from the full computation.`));
    }
    if (r.suspects.length > 0) body.appendChild(this.pairs(v, r.suspects, issues));
    if (kept.length === 0) {
      body.appendChild(h("p", { class: "muted", "data-empty": "true" }, which ? `No listed suspect ${which}.` : "No suspects at this step."));
      return;
    }
    const shown = this.showAll ? kept : kept.slice(0, SHOWN_LIMIT);
    const list = h("div", { class: "thumbs suspects" });
    body.appendChild(list);
    const draw = (img: HTMLImageElement | null) => {
      if (img) list.dataset.spriteWidth = String(img.naturalWidth);
      for (const s of shown) list.appendChild(suspectThumb(r, s, img));
      if (shown.length < kept.length) {
        const more = h("button", { type: "button" }, `Show all ${kept.length}`);
        more.addEventListener("click", () => { this.showAll = true; this.ctx.actions.redrawDetails(); });
        body.appendChild(more);
      }
    };
    if (r.sprite) {
      fillWhenLoaded(list, this.ctx.store.sprite(spriteUrl(r.sprite, "suspects")), "the sprite image", draw, () => "The sprite image of this step could not be loaded.");
    } else {
      draw(null);
    }
  }

  /** The listed suspects counted by given label (rows) and suggested label
   * (columns), each count a button that lists them; where confident learning
   * estimated more in a cell than are listed, "of N" says so. */
  private pairs(v: PanelView, listed: Suspect[], issues: LabelIssuesResponse | null): HTMLElement {
    const n = v.names.length;
    const counts = new Map<number, number>();
    for (const s of listed) counts.set(s.given * n + s.suggested, (counts.get(s.given * n + s.suggested) ?? 0) + 1);
    const estimate = (g: number, s: number) => issues?.suspects[g]?.[s] ?? 0;
    const rows = new Set<number>(), cols = new Set<number>();
    for (const key of counts.keys()) { rows.add(Math.floor(key / n)); cols.add(key % n); }
    const f = this.filter;
    const button = (g: number, s: number) => {
      const count = counts.get(g * n + s) ?? 0;
      const est = Math.max(count, estimate(g, s));
      const label = `Given ${v.names[g]} → suggested ${v.names[s]}: ${count} listed${est > count ? ` of ${est} estimated` : ""}`;
      const b = h("button", {
        type: "button", class: "suspect-pair", title: label, "aria-label": label, "data-given": g, "data-suggested": s, "data-count": count, "data-estimated": est,
        "aria-pressed": String(typeof f === "object" && f.given === g && f.suggested === s),
      }, String(count), est > count ? h("span", { class: "muted" }, ` of ${est}`) : null);
      b.addEventListener("click", () => this.setFilter({ given: g, suggested: s }));
      return b;
    };
    const box = h("figure", { class: "suspect-pairs", id: "tbc-suspects-matrix" },
      h("figcaption", { class: "hint" }, "Listed suspects by given label (rows) → suggested label (columns); click a count to list them."));
    const order = (set: Set<number>) => Array.from(set).sort((a, b) => a - b);
    if (rows.size > MATRIX_LIMIT || cols.size > MATRIX_LIMIT) {
      const pairs = Array.from(counts.entries()).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, MATRIX_LIMIT * 2);
      box.appendChild(h("ol", { class: "suspect-pair-list" }, ...pairs.map(([key]) => {
        const g = Math.floor(key / n), s = key % n;
        return h("li", {}, `${v.names[g]} → ${v.names[s]}: `, button(g, s));
      })));
      return box;
    }
    const table = h("table", { class: "suspect-matrix" });
    table.appendChild(h("tr", {}, h("th", { scope: "col" }, "given ↓ suggested →"), ...order(cols).map((s) => h("th", { scope: "col", title: v.names[s] }, v.names[s]))));
    for (const g of order(rows)) {
      table.appendChild(h("tr", {}, h("th", { scope: "row", title: v.names[g] }, v.names[g]),
        ...order(cols).map((s) => h("td", {}, counts.has(g * n + s) ? button(g, s) : ""))));
    }
    box.appendChild(h("div", { class: "table-wrap" }, table));
    return box;
  }
}

function suspectThumb(r: SuspectsResponse, s: Suspect, img: HTMLImageElement | null): HTMLElement {
  const index = s.dataset_index >= 0 ? `#${s.dataset_index}` : "";
  const label = `Suspect ${index}: given ${s.given_name}, suggested ${s.suggested_name}, probability of the given label ${formatProbability(s.self_confidence)}`;
  return h("div", {
    class: "thumb suspect", title: label, "data-rank": s.rank, "data-given": s.given, "data-suggested": s.suggested,
    "data-self-confidence": s.self_confidence, "data-dataset-index": s.dataset_index,
  },
  img && s.x !== null && s.y !== null ? tileCanvas(img, r, s.x, s.y, label) : null,
  h("span", { class: "suspect-labels" }, `${s.given_name} → ${s.suggested_name}`),
  h("span", { class: "suspect-p" }, `p(given) ${formatProbability(s.self_confidence)}`),
  index ? h("span", { class: "muted" }, index) : null);
}

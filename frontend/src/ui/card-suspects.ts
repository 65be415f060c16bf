// Card "Suspected label errors": the examples confident learning flags as
// likely mislabeled at the shown step, least self-confident first, each with
// its thumbnail, given → suggested label, self-confidence and dataset index.
// Filtered by the selected cell (given = its true class, suggested = its
// predicted class; the default once a cell is selected), by a given class, or
// not at all.
import { ApiError, type SuspectsResponse } from "../api";
import { formatCount, formatMetric } from "../logic/format";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { h, option } from "./dom";
import { describeError } from "./messages";
import type { Cell, PanelView } from "./state";
import { spriteUrl, tileCanvas } from "./thumbs";

/** Suspects drawn before a "Show all" button. */
const SHOWN_LIMIT = 60;

/** "cell": the selected cell (all when none); "all"; or a given class index. */
type Filter = "cell" | "all" | number;

export class SuspectsCard {
  private filter: Filter = "cell";
  private showAll = false;

  constructor(private ctx: CardContext) {}

  render(v: PanelView): HTMLElement {
    const { state, store, actions } = this.ctx;
    const el = card("tbc-suspects", "Suspected label errors", "Suspected label errors");
    el.setAttribute("aria-live", "polite");
    const cell = state.selectedCellOf(v);
    if (typeof this.filter === "number" && this.filter >= v.names.length) this.filter = "cell";
    const select = h("select", { id: "tbc-suspects-filter", "aria-label": "Which suspects" });
    select.append(option("cell", cell ? `Selected cell: ${v.names[cell.t]} → ${v.names[cell.p]}` : "Selected cell (none: all)", this.filter === "cell"),
      option("all", "All classes", this.filter === "all"));
    v.names.forEach((name, i) => select.appendChild(option(String(i), `Given label: ${name}`, this.filter === i)));
    select.addEventListener("change", () => {
      this.filter = select.value === "cell" || select.value === "all" ? select.value : Number(select.value);
      this.showAll = false;
      actions.redrawDetails();
    });
    el.appendChild(h("div", { class: "toolbar" }, h("label", {}, "Show ", select)));
    const params = this.params(cell);
    const body = h("div", { class: "suspects-body", "data-step": v.step });
    el.appendChild(body);
    fillWhenLoaded(body, store.suspects(v.run, v.tag, v.step, params), "suspects", (r) => this.fill(body, v, r, params),
      (e) => e instanceof ApiError && e.status === 404
        ? `No suspects were logged at step ${v.step} (${e.message}).`
        : `Could not load the suspects: ${describeError(e)}`);
    return el;
  }

  /** The route's filter for the current choice. */
  private params(cell: Cell | null): { given?: number; suggested?: number } {
    if (this.filter === "cell") return cell ? { given: cell.t, suggested: cell.p } : {};
    return this.filter === "all" ? {} : { given: this.filter };
  }

  private fill(body: HTMLElement, v: PanelView, r: SuspectsResponse, params: { given?: number; suggested?: number }): void {
    const which = params.suggested !== undefined ? ` with given label ${v.names[params.given!]} and suggested ${v.names[params.suggested]}`
      : params.given !== undefined ? ` with given label ${v.names[params.given]}` : "";
    body.appendChild(h("div", { class: "hint", id: "tbc-suspects-counts", "data-total": r.total, "data-listed": r.listed, "data-shown": r.suspects.length },
      `Step ${r.step}: ${formatCount(r.total)} suspects found in the evaluation, ${formatCount(r.listed)} listed with it (the least self-confident first)`
      + `${which ? `; ${formatCount(r.suspects.length)}${which}` : ""}.`));
    if (r.inexact_rows > 0) {
      body.appendChild(h("p", { class: "hint" }, `${formatCount(r.inexact_rows)} rows were ranked from their largest probabilities only and may differ from the full computation.`));
    }
    if (r.suspects.length === 0) {
      body.appendChild(h("p", { class: "muted", "data-empty": "true" }, which ? `No listed suspect${which}.` : "No suspects at this step."));
      return;
    }
    const shown = this.showAll ? r.suspects : r.suspects.slice(0, SHOWN_LIMIT);
    const list = h("div", { class: "thumbs suspects" });
    body.appendChild(list);
    const draw = (img: HTMLImageElement | null) => {
      if (img) list.dataset.spriteWidth = String(img.naturalWidth);
      for (const s of shown) list.appendChild(suspectThumb(r, s, img));
      if (shown.length < r.suspects.length) {
        const more = h("button", { type: "button" }, `Show all ${r.suspects.length}`);
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
}

function suspectThumb(r: SuspectsResponse, s: SuspectsResponse["suspects"][number], img: HTMLImageElement | null): HTMLElement {
  const index = s.dataset_index >= 0 ? `#${s.dataset_index}` : "";
  const label = `Suspect ${index}: given ${s.given_name}, suggested ${s.suggested_name}, self-confidence ${formatMetric(s.self_confidence)}`;
  return h("div", {
    class: "thumb suspect", title: label, "data-rank": s.rank, "data-given": s.given, "data-suggested": s.suggested,
    "data-self-confidence": s.self_confidence, "data-dataset-index": s.dataset_index,
  },
  img && s.x !== null && s.y !== null ? tileCanvas(img, r, s.x, s.y, label) : null,
  h("span", { class: "suspect-labels" }, `${s.given_name} → ${s.suggested_name}`),
  `self ${formatMetric(s.self_confidence)}`,
  index ? h("span", { class: "muted" }, index) : null);
}

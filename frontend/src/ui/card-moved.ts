// Card "Moved examples" of difference mode (per-example record): the examples
// that entered and that left the selected cell between A and B (two steps of
// a run, or two runs evaluated on the same examples), two paged lists.
import type { CellChangesResponse, RecordPage } from "../api";
import { PAGE_SIZE } from "../logic/members";
import { card, fillWhenLoaded, type CardContext } from "./card";
import { recordTile } from "./card-members";
import { clear, h } from "./dom";
import { exampleTile, pager } from "./record-thumbs";
import type { Cell, PanelView } from "./state";

type Side = "entered" | "left";

export class MovedCard {
  private key = "";
  private offsets: Record<Side, number> = { entered: 0, left: 0 };

  constructor(private ctx: CardContext) {}

  render(v: PanelView, sel: Cell): HTMLElement {
    const { state } = this.ctx;
    const el = card("tbc-moved", "Examples that moved into or out of the selected cell", "Moved examples");
    const diff = state.plan(state.targetStep).diff;
    if (!diff || diff.a.tag !== diff.b.tag) {
      el.appendChild(h("p", { class: "muted" }, "Moved examples compare two evaluations of the same set: a step difference or a run difference."));
      return el;
    }
    const { a, b } = diff;
    const key = [a.run, a.step, b.run, b.step, v.tag, sel.t, sel.p].join("\u0000");
    if (key !== this.key) { this.key = key; this.offsets = { entered: 0, left: 0 }; }
    const where = (s: { run: string; step: number }) => (a.run === b.run ? `step ${s.step}` : `${s.run} at step ${s.step}`);
    el.appendChild(h("div", { class: "hint", id: "tbc-moved-title" },
      `True ${v.names[sel.t]} → predicted ${v.names[sel.p]}: entered = in the cell at B (${where(b)}) but not at A (${where(a)}); left = the other way.`));
    for (const side of ["entered", "left"] as Side[]) {
      const box = h("div", { class: "rec-moved-side", id: `tbc-moved-${side}` });
      box.appendChild(h("h3", {}, side === "entered" ? "Entered the cell" : "Left the cell"));
      const body = h("div", {});
      box.appendChild(body);
      el.appendChild(box);
      const paging = { sort: "confidence" as const, order: "desc" as const, offset: this.offsets[side], limit: PAGE_SIZE };
      fillWhenLoaded(body, this.ctx.store.cellChanges(b.run, v.tag, b.step, sel, a, paging), "the moved examples",
        (r: CellChangesResponse) => this.fill(body, side, r[side], paging.offset, side === "entered" ? b.run : a.run, v.names));
    }
    return el;
  }

  private fill(body: HTMLElement, side: Side, page: RecordPage, offset: number, run: string, names: string[]): void {
    clear(body);
    const onPage = (o: number) => { this.offsets[side] = o; this.ctx.actions.redrawDetails(); };
    const grid = h("div", { class: "rec-grid", "data-total": page.total, "data-offset": offset });
    const drawn: Promise<boolean>[] = [];
    for (const item of page.items) grid.appendChild(exampleTile(this.ctx.store, run, this.ctx.state.tag, recordTile(item, names), null, drawn));
    if (page.total === 0) grid.appendChild(h("p", { class: "muted", "data-empty": "true" }, "None."));
    body.append(pager(`tbc-moved-${side}-pager`, offset, page.items.length, page.total, onPage), grid);
  }
}

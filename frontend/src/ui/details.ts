// The cards below the panels, for the details panel (the active run, or the
// difference, whose cards show B): first what concerns the selected cell
// (examples, suspected label errors, calibration), then top confusions,
// trends and the per-class metrics (a full row).
import { hasKind } from "../logic/diagnostics";
import { calibrationCard } from "./card-calibration";
import { ClassTable } from "./card-classes";
import { DataMapCard } from "./card-data-map";
import { examplesCard } from "./card-examples";
import { MembersCard } from "./card-members";
import { MovedCard } from "./card-moved";
import { topCard } from "./card-top";
import { SuspectsCard } from "./card-suspects";
import { TrendsCard } from "./card-trends";
import type { CardContext } from "./card";
import { clear, h } from "./dom";
import type { Cell, PanelView } from "./state";

export class Details {
  readonly el = h("div", { class: "details", id: "tbc-details" });
  private table: ClassTable;
  private trends: TrendsCard;
  private suspects: SuspectsCard;
  private members: MembersCard;
  private moved: MovedCard;
  private dataMap: DataMapCard;

  constructor(private ctx: CardContext) {
    this.table = new ClassTable(ctx);
    this.trends = new TrendsCard(ctx);
    this.suspects = new SuspectsCard(ctx);
    this.members = new MembersCard(ctx);
    this.moved = new MovedCard(ctx);
    this.dataMap = new DataMapCard(ctx);
  }

  draw(): void {
    clear(this.el);
    const v = this.ctx.state.activeView();
    if (!v) return;
    const where = v.diff ? v.label : `${v.run} at step ${v.step}`;
    // the diagnoses' cards only where the tag's listing has them
    const listed = this.ctx.state.info(v.run, v.tag)?.diagnostics;
    // the selected cell's cards first, right under the matrices; the whole-matrix ones after
    // with the per-example record: every member of the cell (and what moved, in difference mode); else the logged examples
    const record = Array.isArray(listed) && listed.includes("example_predictions");
    const sel = this.ctx.state.selectedCellOf(v);
    this.el.appendChild(record && sel ? this.members.render(v, sel) : examplesCard(this.ctx, v));
    if (record && sel && v.diff) this.el.appendChild(this.moved.render(v, sel));
    if (hasKind(listed, "suspects")) this.el.appendChild(this.suspects.render(v));
    if (hasKind(listed, "reliability")) this.el.appendChild(calibrationCard(this.ctx, v, where));
    this.el.append(topCard(this.ctx, v, where), this.trends.render(v), this.table.render(v, where));
    if (record) this.el.appendChild(this.dataMap.render(v));
  }

  /** A cell of the panel showing `view` was hovered for a moment: show its trend. */
  hover(view: PanelView, cell: Cell): void {
    this.trends.hover(view, cell);
  }
}

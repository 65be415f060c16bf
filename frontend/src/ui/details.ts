// The cards below the panels, for the details panel (the active run, or the
// difference, whose cards show B): first what concerns the selected cell
// (examples, suspected label errors, calibration), then top confusions,
// trends and the per-class metrics (a full row).
import { hasKind } from "../logic/diagnostics";
import { calibrationCard } from "./card-calibration";
import { ClassTable } from "./card-classes";
import { examplesCard } from "./card-examples";
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

  constructor(private ctx: CardContext) {
    this.table = new ClassTable(ctx);
    this.trends = new TrendsCard(ctx);
    this.suspects = new SuspectsCard(ctx);
  }

  draw(): void {
    clear(this.el);
    const v = this.ctx.state.activeView();
    if (!v) return;
    const where = v.diff ? v.label : `${v.run} at step ${v.step}`;
    // the diagnoses' cards only where the tag's listing has them
    const listed = this.ctx.state.info(v.run, v.tag)?.diagnostics;
    // the selected cell's cards first, right under the matrices; the whole-matrix ones after
    this.el.appendChild(examplesCard(this.ctx, v));
    if (hasKind(listed, "suspects")) this.el.appendChild(this.suspects.render(v));
    if (hasKind(listed, "reliability")) this.el.appendChild(calibrationCard(this.ctx, v, where));
    this.el.append(topCard(this.ctx, v, where), this.trends.render(v), this.table.render(v, where));
  }

  /** A cell of the panel showing `view` was hovered for a moment: show its trend. */
  hover(view: PanelView, cell: Cell): void {
    this.trends.hover(view, cell);
  }
}

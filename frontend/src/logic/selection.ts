// The selection: the cell the user clicked, the class picked for the trend
// card, and the cell last hovered. A class index only means something in the
// classes of one tag (and one run's matrix), so the selection remembers its
// tag, each cell its run, and pruneSelection() drops whatever the shown
// panels no longer have: all of it on another tag, a cell of a run no longer
// shown, an index past a panel's classes, a hovered cell of another details
// run. Pure: no DOM.

/** A cell by class index: true class `t`, predicted class `p`. */
export interface Cell { t: number; p: number }
/** A cell of one run's panel. */
export interface RunCell extends Cell { run: string }

export interface Selection {
  /** The tag whose classes the indices below number. */
  tag: string;
  /** The clicked cell (its examples are shown). */
  cell: RunCell | null;
  /** The class of the trend card. */
  cls: number | null;
  /** The cell last hovered on the details panel (its trend is shown). */
  hovered: RunCell | null;
}

/** What a panel shows, as far as the selection cares. `diff`: the difference
 * panel, whose cells compare two runs (a selected cell applies to it whatever its run). */
export interface ShownPanel { run: string; classes: number; diff: boolean }

/** What is shown: the tag, the panels, and the panel the cards are about. */
export interface Shown { tag: string; panels: ShownPanel[]; details: ShownPanel | null }

export function emptySelection(tag = ""): Selection {
  return { tag, cell: null, cls: null, hovered: null };
}

/** Whether `cell` is a cell of `panel` (its run, or the difference; both indices in range). */
export function cellFits(cell: RunCell, panel: ShownPanel): boolean {
  return (panel.diff || cell.run === panel.run) && inRange(cell.t, panel.classes) && inRange(cell.p, panel.classes);
}

/** The part of `sel` that still applies to what is shown. */
export function pruneSelection(sel: Selection, shown: Shown): Selection {
  if (sel.tag !== shown.tag) return emptySelection(shown.tag);
  const { cell, cls, hovered } = sel;
  const details = shown.details;
  return {
    tag: sel.tag,
    cell: cell && shown.panels.some((panel) => cellFits(cell, panel)) ? cell : null,
    // a class of the tag: kept while no panel says otherwise
    cls: cls !== null && (details === null || inRange(cls, details.classes)) ? cls : null,
    hovered: hovered && details && hovered.run === details.run && cellFits(hovered, details) ? hovered : null,
  };
}

function inRange(index: number, classes: number): boolean {
  return Number.isInteger(index) && index >= 0 && index < classes;
}

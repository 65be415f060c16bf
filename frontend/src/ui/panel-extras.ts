// What a matrix panel draws besides its matrix, when the tag's listing has
// the diagnosis and the user asked for it: the mean confidence of each cell's
// predictions (Colour cells by: mean confidence). A failure leaves the panel
// as it is and is said in a notice.
import { hasKind, nullableMatrix } from "../logic/diagnostics";
import type { Matrix } from "../logic/matrix";
import { describeError } from "./messages";
import type { TabState } from "./state";
import type { DataStore } from "./store";

export interface PanelExtras {
  confidence: Matrix | null;
  /** What could not be loaded, one line each. */
  problems: string[];
}

export const NO_EXTRAS: PanelExtras = { confidence: null, problems: [] };

/** Load the extras of `run`'s matrix of `tag` at `step` (`classes` classes) that the settings ask for. */
export async function loadExtras(state: TabState, store: DataStore, run: string, tag: string, step: number, classes: number): Promise<PanelExtras> {
  const { colourBy } = state.settings;
  const listed = state.info(run, tag)?.diagnostics;
  const problems: string[] = [];
  const load = async <T>(wanted: boolean, what: string, get: () => Promise<T>, toMatrix: (value: T) => Matrix): Promise<Matrix | null> => {
    if (!wanted) return null;
    try {
      const m = toMatrix(await get());
      if (m.n !== classes) throw new Error(`${m.n} classes, the matrix has ${classes}`);
      return m;
    } catch (e) {
      problems.push(`Run “${run}”, step ${step}: the ${what} could not be loaded (${describeError(e)}).`);
      return null;
    }
  };
  const confidence = await load(colourBy === "confidence" && hasKind(listed, "cell_confidence"), "mean confidence per cell",
    () => store.cellConfidence(run, tag, step).load(), (r) => nullableMatrix(r.mean_confidence));
  return { confidence, problems };
}

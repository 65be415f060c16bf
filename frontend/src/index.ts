// Entry point: TensorBoard's plugin_entry.html imports this module and calls render().
import { App } from "./ui/app";
import { requestTags } from "./ui/listing";
import { CSS } from "./ui/styles";
import { followTheme } from "./ui/theme";

const LOADING_STATE_DELAY_MS = 100;
let started = false;

export function render(): void {
  if (started) return;
  started = true;
  performance.mark("tbc-render-called");
  // Ask for the run list before building the page; the request overlaps the DOM work.
  // X-Confusion-Latest: the answer also carries each small series' last matrix,
  // which is what the tab draws first, so the first draw needs no second round trip.
  const early = requestTags(true);
  const style = document.createElement("style");
  style.textContent = CSS;
  document.head.appendChild(style);
  const root = document.createElement("div");
  root.id = "tbc-root";
  // The page goes into the document when the run list arrives (or after
  // LOADING_STATE_DELAY_MS, to show "Loading runs…" on a slow server): a fast
  // answer then costs one style and layout pass of the page, not one for the
  // loading state followed by one for the matrices.
  let attached = false;
  const attach = () => {
    if (attached) return;
    attached = true;
    document.body.appendChild(root);
  };
  const timer = window.setTimeout(attach, LOADING_STATE_DELAY_MS);
  early.promise.then(attach, attach).finally(() => clearTimeout(timer));
  const app = new App(root, early);
  followTheme(() => app.onThemeChange());
  void app.start();
}

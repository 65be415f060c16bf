// Entry point: TensorBoard's plugin_entry.html imports this module and calls render().
import { getJson, type TagsResponse } from "./api";
import { App } from "./ui/app";
import { CSS } from "./ui/styles";
import { followTheme } from "./ui/theme";

let started = false;

export function render(): void {
  if (started) return;
  started = true;
  performance.mark("tbc-render-called");
  // Ask for the run list before building the page; the request overlaps the DOM work.
  const tags = getJson<TagsResponse>("tags");
  tags.catch(() => undefined);
  const style = document.createElement("style");
  style.textContent = CSS;
  document.head.appendChild(style);
  const root = document.createElement("div");
  root.id = "tbc-root";
  document.body.appendChild(root);
  const app = new App(root, tags);
  followTheme(() => app.onThemeChange());
  void app.start();
}

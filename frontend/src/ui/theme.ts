// Light/dark theme: TensorBoard marks its dark mode with the class "dark-mode"
// on the parent document's <body> (same origin, readable from the plugin
// iframe). Outside TensorBoard, or if the parent cannot be read, follow
// prefers-color-scheme.

function parentBody(): HTMLElement | null {
  try {
    if (window.parent && window.parent !== window && window.parent.document && window.parent.document.body) {
      return window.parent.document.body;
    }
  } catch { /* cross-origin parent */ }
  return null;
}

function currentTheme(): "dark" | "light" {
  const body = parentBody();
  if (body) return body.classList.contains("dark-mode") ? "dark" : "light";
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function followTheme(onChange: () => void): void {
  const apply = () => {
    const theme = currentTheme();
    if (document.documentElement.dataset.theme !== theme) {
      document.documentElement.dataset.theme = theme;
      onChange();
    }
  };
  apply();
  const body = parentBody();
  if (body) new MutationObserver(apply).observe(body, { attributes: true, attributeFilter: ["class"] });
  if (window.matchMedia) window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
}

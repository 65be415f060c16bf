// Colour scales, computed from small embedded tables of anchor colours.
// Sequential: viridis (perceptually uniform, colour-blind safe), 11 anchors.
// Diverging: blue - light neutral - orange, interpolated in OKLab so that
// lightness changes evenly on both sides.

export type RGB = [number, number, number];

const VIRIDIS_ANCHORS = [
  "440154", "482475", "414487", "355f8d", "2a788e", "21918c",
  "22a884", "44bf70", "7ad151", "bddf26", "fde725",
];

function hexToRgb(hex: string): RGB {
  const v = parseInt(hex, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

const VIRIDIS: RGB[] = VIRIDIS_ANCHORS.map(hexToRgb);

function clamp01(t: number): number {
  return t < 0 ? 0 : t > 1 ? 1 : Number.isFinite(t) ? t : 0;
}

/** Linear sRGB <-> OKLab (Björn Ottosson's published matrices). */
function srgbToLinear(c: number): number {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
}
function linearToSrgb(x: number): number {
  const v = x <= 0.0031308 ? 12.92 * x : 1.055 * Math.pow(x, 1 / 2.4) - 0.055;
  return Math.round(clamp01(v) * 255);
}
export function rgbToOklab([r, g, b]: RGB): RGB {
  const lr = srgbToLinear(r), lg = srgbToLinear(g), lb = srgbToLinear(b);
  const l = Math.cbrt(0.4122214708 * lr + 0.5363325363 * lg + 0.0514459929 * lb);
  const m = Math.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb);
  const s = Math.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787005 * lb);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}
function oklabToRgb([L, a, b]: RGB): RGB {
  const l = Math.pow(L + 0.3963377774 * a + 0.2158037573 * b, 3);
  const m = Math.pow(L - 0.1055613458 * a - 0.0638541728 * b, 3);
  const s = Math.pow(L - 0.0894841775 * a - 1.291485548 * b, 3);
  return [
    linearToSrgb(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
    linearToSrgb(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
    linearToSrgb(-0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s),
  ];
}

/** Viridis at t in [0, 1]. */
export function sequential(t: number): RGB {
  const x = clamp01(t) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

function oklch(L: number, C: number, hueDeg: number): RGB {
  const h = (hueDeg * Math.PI) / 180;
  return [L, C * Math.cos(h), C * Math.sin(h)];
}
// Both ends at the same OKLab lightness, so equal |differences| look equally strong.
const DIV_NEG = oklch(0.52, 0.12, 255); // blue: fewer in B than in A
const DIV_POS = oklch(0.52, 0.13, 55); // orange: more in B than in A
/** The neutral middle (no change) per page theme: a light grey on a light
 * page; on a dark page a mid grey, which stands out from the dark background
 * (contrast ratio above 3) instead of glaring white. */
export const DIVERGING_NEUTRAL = { light: "ececec", dark: "9aa0a6" } as const;
export type Theme = keyof typeof DIVERGING_NEUTRAL;
let DIV_MID = rgbToOklab(hexToRgb(DIVERGING_NEUTRAL.light));

/** Make the diverging scale's neutral middle that of `theme` (the tab calls it when the theme changes). */
export function setDivergingTheme(theme: Theme): void {
  DIV_MID = rgbToOklab(hexToRgb(DIVERGING_NEUTRAL[theme]));
}

/** Diverging scale at t in [-1, 1]: negative blue, zero neutral, positive orange. */
export function diverging(t: number): RGB {
  const x = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  const end = x < 0 ? DIV_NEG : DIV_POS;
  const f = Math.abs(x);
  return oklabToRgb([
    DIV_MID[0] + (end[0] - DIV_MID[0]) * f,
    DIV_MID[1] + (end[1] - DIV_MID[1]) * f,
    DIV_MID[2] + (end[2] - DIV_MID[2]) * f,
  ]);
}

/** Decades below the top of the colour domain that the log scale spans. */
export const LOG_DECADES = 2;

/** Position of `v` on a colour scale of domain [0, domain] (or [-domain, domain]): v / domain, or on the
 * log scale sign(v) * log(1 + |v|/e) / log(1 + domain/e) with e = domain / 10^LOG_DECADES, which keeps 0
 * at 0 and the top at 1 and spreads small values (a cell 1% of the top sits at 0.15, 10% at 0.52). Clamped to [-1, 1]. */
export function scalePosition(v: number, domain: number, log: boolean): number {
  if (!(domain > 0) || !Number.isFinite(v)) return 0;
  const a = Math.min(1, Math.abs(v) / domain);
  const t = log ? Math.log1p(a * 10 ** LOG_DECADES) / Math.log1p(10 ** LOG_DECADES) : a;
  return v < 0 ? -t : t;
}

/** Precomputed 256-entry lookup tables (r, g, b per entry) for fast canvas fills. */
export function lut(kind: "seq" | "div"): Uint8Array {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = kind === "seq" ? sequential(i / 255) : diverging((i / 255) * 2 - 1);
    table[i * 3] = c[0];
    table[i * 3 + 1] = c[1];
    table[i * 3 + 2] = c[2];
  }
  return table;
}

/** Whether dark text reads better than light text on this background. */
export function prefersDarkText(c: RGB): boolean {
  return rgbToOklab(c)[0] > 0.68;
}

/** WCAG contrast ratio of two colours (1 to 21). */
export function contrastRatio(a: RGB, b: RGB): number {
  const lum = ([r, g, bl]: RGB) => 0.2126 * srgbToLinear(r) + 0.7152 * srgbToLinear(g) + 0.0722 * srgbToLinear(bl);
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

export function cssColor(c: RGB): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

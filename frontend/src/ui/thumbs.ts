// A thumbnail cut from a sprite sheet (the cell examples' and the suspects'),
// drawn on a canvas, and the sprite's URL, given relative to its route.
import { routeUrl } from "../api";
import { h } from "./dom";

/** The tile size of a sprite, as the examples and suspects routes give it. */
export interface TileSize { tile_width: number; tile_height: number }

/** The tile at (x, y) of `img`, on a canvas with an accessible label. */
export function tileCanvas(img: HTMLImageElement, size: TileSize, x: number, y: number, label: string): HTMLCanvasElement {
  const c = h("canvas", { width: size.tile_width, height: size.tile_height, role: "img", "aria-label": label });
  const ctx = c.getContext("2d");
  if (ctx) ctx.drawImage(img, x, y, size.tile_width, size.tile_height, 0, 0, size.tile_width, size.tile_height);
  return c;
}

/** The absolute URL of a sprite given relative to `route` (docs/http_api.md). */
export function spriteUrl(sprite: string, route: string): string {
  return new URL(sprite, routeUrl(route)).href;
}

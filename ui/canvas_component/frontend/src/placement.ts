// Where a new node goes: next to the selected node or at the centre of the view,
// never overlapping another node and inside the view when there is room. Pure.
import type { XY } from "./types";

export const NODE_W = 220;
export interface Rect { x: number; y: number; w: number; h: number }

const GAP = 24;

const overlaps = (a: Rect, b: Rect): boolean =>
  a.x < b.x + b.w + GAP && b.x < a.x + a.w + GAP && a.y < b.y + b.h + GAP && b.y < a.y + a.h + GAP;

const inside = (a: Rect, view: Rect): boolean =>
  a.x >= view.x && a.y >= view.y && a.x + a.w <= view.x + view.w && a.y + a.h <= view.y + view.h;

/** Candidate spots: right of, below, above and left of `near`, then rings around the view centre. */
function* candidates(size: { w: number; h: number }, view: Rect, near: Rect | null): Generator<XY> {
  if (near) {
    const dx = near.w + 60, dy = Math.max(near.h, size.h) + 40;
    for (const [i, j] of [[1, 0], [1, 1], [1, -1], [0, 1], [0, -1], [1, 2], [1, -2], [-1, 0], [2, 0], [2, 1]])
      yield [near.x + i * dx, near.y + j * dy];
  }
  const cx = view.x + view.w / 2 - size.w / 2, cy = view.y + view.h / 2 - size.h / 2;
  const sx = size.w + GAP, sy = size.h + GAP;
  for (let r = 0; r < 40; r++) {
    for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) {
      if (Math.max(Math.abs(i), Math.abs(j)) === r) yield [cx + i * sx, cy + j * sy];
    }
  }
}

/** The first spot that overlaps nothing, preferring spots inside `view`. */
export function freeSpot(taken: Rect[], size: { w: number; h: number }, view: Rect, near: Rect | null = null): XY {
  let fallback: XY | null = null;
  for (const [x, y] of candidates(size, view, near)) {
    const r = { x, y, ...size };
    if (taken.some((t) => overlaps(r, t))) continue;
    if (inside(r, view)) return [Math.round(x), Math.round(y)];
    fallback ??= [Math.round(x), Math.round(y)];
  }
  return fallback ?? [Math.round(view.x + view.w / 2), Math.round(view.y + view.h / 2)];
}

/** A node's height on screen, estimated from its ports (header, summary, port rows). */
export function nodeHeight(inputs: number, outputs: number): number {
  return 58 + 22 * (inputs + outputs) + 8;
}

/** `pos` moved just enough that a node of `size` there lies inside `view` (when it fits). */
export function clampInto(pos: XY, size: { w: number; h: number }, view: Rect, margin = 12): XY {
  const x = Math.min(Math.max(pos[0], view.x + margin), view.x + view.w - size.w - margin);
  const y = Math.min(Math.max(pos[1], view.y + margin), view.y + view.h - size.h - margin);
  return [Math.round(Math.max(x, view.x)), Math.round(Math.max(y, view.y))];
}

import { describe, expect, it } from "vitest";
import { Outbox } from "../src/outbox";
import { freeSpot, type Rect } from "../src/placement";

describe("messages: seq, base, pending and the ack rule", () => {
  it("numbers batches after Python's ack and keeps every unacknowledged one", () => {
    const box = new Outbox(7);
    const m1 = box.send([{ op: "select", id: "a", panel: "properties" }], 3);
    expect(m1).toEqual({ seq: 8, base: 3, ops: [{ op: "select", id: "a", panel: "properties" }],
                         pending: [{ seq: 8, base: 3, ops: [{ op: "select", id: "a", panel: "properties" }] }] });
    const m2 = box.send([{ op: "connect", from: "a.x", to: "b.y" }], 3);
    expect(m2.seq).toBe(9);
    expect(m2.pending.map((b) => b.seq)).toEqual([8, 9]);
    box.acknowledge(8);
    expect(box.send([{ op: "action", name: "save" }], 4).pending.map((b) => b.seq)).toEqual([9, 10]);
  });

  it("lets a graph from Python replace local edits only once Python has seen them all", () => {
    const box = new Outbox(0);
    expect(box.settled(0)).toBe(true);
    box.send([{ op: "move", positions: { a: [1, 2] } }], 1);
    box.send([{ op: "move", positions: { a: [3, 4] } }], 1);
    expect(box.settled(0)).toBe(false);
    expect(box.settled(1)).toBe(false);   // a stale rerun: would undo the second move
    expect(box.settled(2)).toBe(true);
  });
});

describe("placement of click-to-add", () => {
  const view: Rect = { x: 0, y: 0, w: 1000, h: 600 };
  const size = { w: 220, h: 100 };
  const overlap = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

  it("goes right of the selected node when there is room", () => {
    const sel = { x: 100, y: 100, w: 220, h: 120 };
    expect(freeSpot([sel], size, view, sel)).toEqual([380, 100]);
  });

  it("goes to the view centre when nothing is selected, and never overlaps or leaves the view", () => {
    expect(freeSpot([], size, view)).toEqual([390, 250]);
    const taken: Rect[] = [];
    for (let i = 0; i < 8; i++) {
      const [x, y] = freeSpot(taken, size, view);
      const r = { x, y, ...size };
      expect(taken.some((t) => overlap(r, t))).toBe(false);
      expect(x >= 0 && y >= 0 && x + 220 <= 1000 && y + 100 <= 600).toBe(true);
      taken.push(r);
    }
  });
});

describe("a node dropped near the edge of the view", () => {
  it("is moved inside the view, and left alone when it is inside", async () => {
    const { clampInto } = await import("../src/placement");
    const view = { x: 100, y: 50, w: 800, h: 600 };
    expect(clampInto([850, 600], { w: 220, h: 100 }, view)).toEqual([668, 538]);
    expect(clampInto([0, 0], { w: 220, h: 100 }, view)).toEqual([112, 62]);
    expect(clampInto([300, 200], { w: 220, h: 100 }, view)).toEqual([300, 200]);
  });
});

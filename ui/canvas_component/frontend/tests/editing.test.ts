import { describe, expect, it } from "vitest";
import { applyOps, changedByOthers, diffGraphs, type Catalog } from "../src/apply";
import { copySelection, pasteOp } from "../src/clipboard";
import { History } from "../src/history";
import { idStem, uniqueId } from "../src/ids";
import type { Graph, Op } from "../src/types";
import { CATALOG, sample } from "./fixtures";

const CAT: Catalog = new Map(CATALOG.map((c) => [c.type, c]));
const strip = (g: Graph) => ({
  nodes: g.nodes.map((n) => ({ id: n.id, type: n.type, name: n.name ?? "", position: n.position, config: n.config })).sort((a, b) => a.id.localeCompare(b.id)),
  edges: g.edges.map((e) => `${e.from}->${e.to}`).sort(),
});

describe("unique ids", () => {
  it("uses the type's name part, then _2, _3", () => {
    expect(idStem("text.split")).toBe("split");
    expect(idStem("llm.chat_model")).toBe("chat_model");
    expect(idStem("x.9lives")).toBe("node_9lives");
    expect(uniqueId("split", new Set())).toBe("split");
    expect(uniqueId("split", new Set(["split", "split_2"]))).toBe("split_3");
    expect(uniqueId("split_2", new Set(["split", "split_2"]))).toBe("split_3");
  });
});

describe("undo/redo history", () => {
  it("walks back and forth many levels and drops redo on a new change", () => {
    const h = new History(100);
    const gs: Graph[] = Array.from({ length: 6 }, (_, i) => ({ nodes: [], edges: [{ from: `a.${i}`, to: "b.x" }] }));
    for (let i = 0; i < 5; i++) h.record(gs[i]);
    let cur = gs[5];
    for (let i = 4; i >= 0; i--) { cur = h.undo(cur)!; expect(cur).toBe(gs[i]); }
    expect(h.undo(cur)).toBeNull();
    cur = h.redo(cur)!;
    expect(cur).toBe(gs[1]);
    h.record(cur);
    expect(h.canRedo).toBe(false);
    expect(h.redo(gs[2])).toBeNull();
  });

  it("keeps at most `limit` levels", () => {
    const h = new History(3);
    const gs: Graph[] = Array.from({ length: 5 }, () => ({ nodes: [], edges: [] }));
    gs.forEach((g) => h.record(g));
    let cur: Graph = { nodes: [], edges: [] };
    const seen = [];
    for (let x = h.undo(cur); x; x = h.undo(cur)) { seen.push(gs.indexOf(x)); cur = x; }
    expect(seen).toEqual([4, 3, 2]);
  });
});

describe("diff of two graphs -> ops", () => {
  it("turns any graph into any other (undo of add, remove, connect, config, move)", () => {
    const a = sample();
    const edits: Op[][] = [
      [{ op: "add_node", id: "any", type: "demo.any", position: [10, 20] }, { op: "connect", from: "q.text", to: "any.value" }],
      [{ op: "remove", nodes: ["llm"], edges: [] }],
      [{ op: "set_config", id: "llm", config: { temperature: 1 }, name: "Writer" }],
      [{ op: "move", positions: { q: [5, 6], join: [7, 8] } }],
      [{ op: "remove", nodes: [], edges: [{ from: "q.text", to: "llm.prompt" }] }, { op: "connect", from: "q.text", to: "join.values" }],
    ];
    for (const ops of edits) {
      const b = applyOps(a, ops, CAT);
      expect(strip(applyOps(a, diffGraphs(a, b), CAT))).toEqual(strip(b));
      expect(strip(applyOps(b, diffGraphs(b, a), CAT))).toEqual(strip(a));
    }
  });

  it("re-adds a removed node with its config and every edge it had (one paste op)", () => {
    const a = sample();
    const b = applyOps(a, [{ op: "remove", nodes: ["llm"], edges: [] }], CAT);
    expect(b.edges).toEqual([]);
    expect(diffGraphs(b, a)).toEqual([{
      op: "paste",
      nodes: [{ id: "llm", type: "demo.llm", name: "", position: [300, 0], config: { temperature: 0 } }],
      edges: [{ from: "q.text", to: "llm.prompt" }, { from: "llm.text", to: "join.values" }],
    }]);
  });

  it("removes before it adds, and sends nothing for equal graphs", () => {
    const a = sample();
    expect(diffGraphs(a, a)).toEqual([]);
    const b = applyOps(a, [{ op: "add_node", id: "x", type: "demo.any", position: [1, 2] }], CAT);
    expect(diffGraphs(b, a)).toEqual([{ op: "remove", nodes: ["x"], edges: [] }]);
    expect(diffGraphs(a, b)).toEqual([{ op: "paste", nodes: [{ id: "x", type: "demo.any", name: "", position: [1, 2] }], edges: [] }]);
  });

  it("tells Python's own additions apart from changes made elsewhere", () => {
    const a = sample();
    const mine = applyOps(a, [{ op: "add_node", id: "any", type: "demo.any", position: [0, 0] }], CAT);
    const fromPython = { ...mine, nodes: mine.nodes.map((n) => (n.id === "any" ? { ...n, config: { x: 1 }, summary: "x: 1" } : n)) };
    expect(changedByOthers(mine, fromPython)).toBe(false);
    const moved = applyOps(mine, [{ op: "move", positions: { q: [9, 9] } }], CAT);
    expect(changedByOthers(mine, moved)).toBe(false);
    const edited = { ...a, nodes: a.nodes.map((n) => (n.id === "llm" ? { ...n, config: { temperature: 2 } } : n)) };
    expect(changedByOthers(a, edited)).toBe(true);
  });
});

describe("copy/paste", () => {
  it("pastes with fresh ids, offset positions and the edges among the copied nodes", () => {
    const g = sample();
    const clip = copySelection(g, ["llm", "join"]);
    expect(clip.edges).toEqual([{ from: "llm.text", to: "join.values", type: "Text" }]);
    const op = pasteOp(clip, g, 40);
    expect(op).toEqual({
      op: "paste",
      nodes: [{ id: "llm_2", type: "demo.llm", name: "", position: [340, 40], config: { temperature: 0 } },
              { id: "join_2", type: "demo.join", name: "", position: [640, 40], config: {} }],
      edges: [{ from: "llm_2.text", to: "join_2.values" }],
    });
    const twice = pasteOp(clip, applyOps(g, [op!], CAT), 80);
    expect(twice && twice.op === "paste" && twice.nodes.map((n) => n.id)).toEqual(["llm_3", "join_3"]);
    expect(pasteOp(copySelection(g, []), g, 40)).toBeNull();
  });
});

describe("graph identity", () => {
  it("keeps the flow id through every op", () => {
    const g = { ...sample(), id: "flow-1" };
    const ops: Op[] = [
      { op: "add_node", id: "x", type: "demo.any", position: [0, 0] },
      { op: "remove", nodes: ["x"], edges: [] },
      { op: "paste", nodes: [{ id: "y", type: "demo.any", position: [0, 0] }], edges: [] },
      { op: "connect", from: "q.text", to: "y.value" },
      { op: "move", positions: { y: [1, 1] } },
      { op: "set_config", id: "y", config: {} },
    ];
    for (const op of ops) expect(applyOps(g, [op], CAT).id).toBe("flow-1");
  });
});

describe("a new revision from Python", () => {
  it("keeps the objects of unchanged nodes and edges, so only changed ones re-render", async () => {
    const { reuseEqual } = await import("../src/apply");
    const a = sample();
    const b: Graph = JSON.parse(JSON.stringify(a));
    b.nodes[1].summary = "temperature: 0";
    const r = reuseEqual(a, b);
    expect(r.nodes[0]).toBe(a.nodes[0]);
    expect(r.nodes[1]).toBe(b.nodes[1]);
    expect(r.edges[0]).toBe(a.edges[0]);
    expect(r).toEqual(b);
  });
});

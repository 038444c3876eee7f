// Applying ops to a graph, and the ops that turn one graph into another. Pure: the
// component applies its own ops locally (optimistic) with `applyOps`, and undo/redo
// send `diffGraphs(current, snapshot)`.
import type { CatalogEntry, GEdge, GNode, Graph, Op, PasteNode, XY } from "./types";
import { edgeId, splitRef } from "./types";

export type Catalog = Map<string, CatalogEntry>;

/** A node drawn from its catalog entry until Python sends the real one. */
export function newNode(id: string, type: string, position: XY, catalog: Catalog,
                        config?: Record<string, unknown>, name?: string): GNode {
  const entry = catalog.get(type);
  return {
    id, type, title: name || entry?.title || type, name: name ?? "", position,
    config, summary: "", role: entry?.role ?? null,
    inputs: entry?.inputs ?? [], outputs: entry?.outputs ?? [], problems: [],
  };
}

function edgeType(nodes: GNode[], from: string): string {
  const [n, p] = splitRef(from);
  return nodes.find((x) => x.id === n)?.outputs.find((o) => o.name === p)?.type ?? "Any";
}

function applyOne(g: Graph, op: Op, catalog: Catalog): Graph {
  switch (op.op) {
    case "add_node":
      return { ...g, nodes: [...g.nodes, newNode(op.id, op.type, op.position, catalog)] };
    case "remove": {
      const gone = new Set(op.nodes);
      const cut = new Set(op.edges.map(edgeId));
      return {
        ...g,
        nodes: g.nodes.filter((n) => !gone.has(n.id)),
        edges: g.edges.filter((e) => !cut.has(edgeId(e)) && !gone.has(splitRef(e.from)[0]) && !gone.has(splitRef(e.to)[0])),
      };
    }
    case "connect":
      if (g.edges.some((e) => e.from === op.from && e.to === op.to)) return g;
      return { ...g, edges: [...g.edges, { from: op.from, to: op.to, type: edgeType(g.nodes, op.from), problem: null }] };
    case "move":
      return { ...g, nodes: g.nodes.map((n) => (op.positions[n.id] ? { ...n, position: op.positions[n.id] } : n)) };
    case "set_config":
      return {
        ...g,
        nodes: g.nodes.map((n) => n.id !== op.id ? n : {
          ...n, config: op.config, ...(op.name !== undefined ? { name: op.name, title: op.name || n.title } : {}),
        }),
      };
    case "paste": {
      const nodes = [...g.nodes, ...op.nodes.map((p: PasteNode) => pasted(p, catalog))];
      const edges = [...g.edges, ...op.edges.map((e) => ({ ...e, type: edgeType(nodes, e.from), problem: null }))];
      return { ...g, nodes, edges };
    }
    default:
      return g;
  }
}

function pasted(p: PasteNode, catalog: Catalog): GNode {
  return newNode(p.id, p.type, p.position, catalog, p.config, p.name);
}

export function applyOps(g: Graph, ops: Op[], catalog: Catalog): Graph {
  return ops.reduce((acc, op) => applyOne(acc, op, catalog), g);
}

const sameXY = (a: XY | null, b: XY | null): boolean =>
  a === b || (!!a && !!b && Math.abs(a[0] - b[0]) < 0.05 && Math.abs(a[1] - b[1]) < 0.05);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The ops that turn `from` into `to` (removals first, then re-additions with their
 * config and edges, then config changes, connections and moves). */
export function diffGraphs(from: Graph, to: Graph): Op[] {
  const before = new Map(from.nodes.map((n) => [n.id, n]));
  const after = new Map(to.nodes.map((n) => [n.id, n]));
  const typeChanged = (id: string) => before.get(id)!.type !== after.get(id)!.type;
  const goneNodes = from.nodes.filter((n) => !after.has(n.id) || typeChanged(n.id)).map((n) => n.id);
  const goneSet = new Set(goneNodes);
  const toEdges = new Set(to.edges.map(edgeId));
  const fromEdges = new Set(from.edges.map(edgeId));
  const goneEdges = from.edges.filter((e) => !toEdges.has(edgeId(e))).map(({ from, to }) => ({ from, to }));
  const ops: Op[] = [];
  if (goneNodes.length || goneEdges.length) ops.push({ op: "remove", nodes: goneNodes, edges: goneEdges });
  const added = to.nodes.filter((n) => !before.has(n.id) || goneSet.has(n.id));
  const addedSet = new Set(added.map((n) => n.id));
  const touches = (e: GEdge) => addedSet.has(splitRef(e.from)[0]) || addedSet.has(splitRef(e.to)[0]);
  if (added.length) {
    ops.push({
      op: "paste",
      nodes: added.map((n) => ({
        id: n.id, type: n.type, name: n.name ?? "", position: n.position ?? [0, 0],
        ...(n.config !== undefined ? { config: n.config } : {}),
      })),
      edges: to.edges.filter(touches).map(({ from, to }) => ({ from, to })),
    });
  }
  for (const n of to.nodes) {
    const old = before.get(n.id);
    if (!old || addedSet.has(n.id)) continue;
    if (!same(old.config, n.config) || (old.name ?? "") !== (n.name ?? ""))
      ops.push({ op: "set_config", id: n.id, config: n.config ?? {}, name: n.name ?? "" });
  }
  for (const e of to.edges) if (!fromEdges.has(edgeId(e)) && !touches(e)) ops.push({ op: "connect", from: e.from, to: e.to });
  const positions: Record<string, XY> = {};
  for (const n of to.nodes) {
    const old = before.get(n.id);
    if (old && !addedSet.has(n.id) && n.position && !sameXY(old.position, n.position)) positions[n.id] = n.position;
  }
  if (Object.keys(positions).length) ops.push({ op: "move", positions });
  return ops;
}

/** True when `incoming` differs from `local` in more than Python's own additions
 * (ports, summaries, problems, titles, the config of nodes the client just added). */
export function changedByOthers(local: Graph, incoming: Graph): boolean {
  const pending = new Set(local.nodes.filter((n) => n.config === undefined).map((n) => n.id));
  return diffGraphs(local, incoming).some((op) => op.op !== "move" && !(op.op === "set_config" && pending.has(op.id)));
}

/** `next` with every node and edge that equals its counterpart in `prev` replaced by
 * that counterpart: a new revision from Python then re-renders only what changed. */
export function reuseEqual(prev: Graph, next: Graph): Graph {
  const nodes = new Map(prev.nodes.map((n) => [n.id, n]));
  const edges = new Map(prev.edges.map((e) => [edgeId(e), e]));
  return {
    ...next,
    nodes: next.nodes.map((n) => { const p = nodes.get(n.id); return p && same(p, n) ? p : n; }),
    edges: next.edges.map((e) => { const p = edges.get(edgeId(e)); return p && same(p, e) ? p : e; }),
  };
}

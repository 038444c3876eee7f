// Copy/paste of a selection with fresh ids. Pure.
import { uniqueId } from "./ids";
import type { GEdge, GNode, Graph, Op, PasteNode } from "./types";
import { splitRef } from "./types";

export interface Clip {
  nodes: GNode[];
  edges: GEdge[];
}

/** The selected nodes and the edges between them. */
export function copySelection(graph: Graph, ids: Iterable<string>): Clip {
  const keep = new Set(ids);
  return {
    nodes: graph.nodes.filter((n) => keep.has(n.id)),
    edges: graph.edges.filter((e) => keep.has(splitRef(e.from)[0]) && keep.has(splitRef(e.to)[0])),
  };
}

/** A paste op for `clip` into `graph`: fresh unique ids, positions shifted by `offset`. */
export function pasteOp(clip: Clip, graph: Graph, offset: number): Op | null {
  if (!clip.nodes.length) return null;
  const taken = new Set(graph.nodes.map((n) => n.id));
  const rename = new Map<string, string>();
  const nodes: PasteNode[] = clip.nodes.map((n) => {
    const id = uniqueId(n.id, taken);
    taken.add(id);
    rename.set(n.id, id);
    const [x, y] = n.position ?? [0, 0];
    return { id, type: n.type, name: n.name ?? "", position: [x + offset, y + offset], config: n.config ?? {} };
  });
  const ref = (r: string) => { const [n, p] = splitRef(r); return `${rename.get(n)}.${p}`; };
  return { op: "paste", nodes, edges: clip.edges.map((e) => ({ from: ref(e.from), to: ref(e.to) })) };
}

// Port-aware layered layout with elk (its bundled build: no web worker needed). elk
// is most of the bundle's weight, so it is loaded on the first layout, not with the page.
import type { ELK as Elk } from "elkjs/lib/elk-api";
import { NODE_W, nodeHeight } from "./placement";
import type { Graph, XY } from "./types";
import { splitRef } from "./types";

let elk: Promise<Elk> | null = null;

function loadElk(): Promise<Elk> {
  elk ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default());
  return elk;
}

const OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.layered.spacing.nodeNodeBetweenLayers": "90",
  "elk.spacing.nodeNode": "40",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.crossingMinimization.semiInteractive": "true",
  "elk.separateConnectedComponents": "true",
  "elk.spacing.componentComponent": "60",
};

/** Positions for every node of `graph` (left to right, ports in their drawn order).
 * `sizes` are measured sizes where the browser knows them. */
export async function elkLayout(graph: Graph, sizes: Map<string, { w: number; h: number }> = new Map()): Promise<Record<string, XY>> {
  const ids = new Set(graph.nodes.map((n) => n.id));
  const children = graph.nodes.map((n) => {
    const size = sizes.get(n.id) ?? { w: NODE_W, h: nodeHeight(n.inputs.length, n.outputs.length) };
    const ports = [
      ...n.inputs.map((p, i) => ({ id: `${n.id}.in.${p.name}`, layoutOptions: { "elk.port.side": "WEST", "elk.port.index": String(i) } })),
      ...n.outputs.map((p, i) => ({ id: `${n.id}.out.${p.name}`, layoutOptions: { "elk.port.side": "EAST", "elk.port.index": String(i) } })),
    ];
    return { id: n.id, width: size.w, height: size.h, ports, layoutOptions: { "elk.portConstraints": "FIXED_ORDER" } };
  });
  const portIds = new Set(children.flatMap((c) => c.ports.map((p) => p.id)));
  const edges = graph.edges
    .filter((e) => ids.has(splitRef(e.from)[0]) && ids.has(splitRef(e.to)[0]))
    .map((e, i) => {
      const [sn, sp] = splitRef(e.from), [tn, tp] = splitRef(e.to);
      const s = `${sn}.out.${sp}`, t = `${tn}.in.${tp}`;
      return { id: `e${i}`, sources: [portIds.has(s) ? s : sn], targets: [portIds.has(t) ? t : tn] };
    });
  const out = await (await loadElk()).layout({ id: "root", layoutOptions: OPTIONS, children, edges });
  const positions: Record<string, XY> = {};
  for (const c of out.children ?? []) positions[c.id] = [Math.round((c.x ?? 0) + 40), Math.round((c.y ?? 0) + 40)];
  return positions;
}

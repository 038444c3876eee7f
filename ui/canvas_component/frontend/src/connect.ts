// Which connections are allowed, decided on the client exactly as the engine does
// (the `compat` table is engine.ports.fits as data). Pure: no React.
import type { CatalogEntry, Compat, GNode, Graph, InPort, OutPort } from "./types";
import { splitRef } from "./types";

export type Verdict = { ok: true; type: string } | { ok: false; reason: string };

export const fits = (compat: Compat, source: string, target: string): boolean =>
  (compat[source] ?? [source, "Any"]).includes(target) || source === target;

/** The input types an output of type `source` may feed. */
export const targetsOf = (compat: Compat, source: string): string[] => compat[source] ?? [source, "Any"];

/** The output types that may feed an input of type `target`. */
export const sourcesOf = (compat: Compat, target: string): string[] =>
  Object.keys(compat).filter((k) => fits(compat, k, target));

function findNode(graph: Graph, id: string): GNode | undefined {
  return graph.nodes.find((n) => n.id === id);
}

/** May `from` ("node.port", an output) feed `to` (an input)? With the reason when not. */
export function checkConnection(graph: Graph, compat: Compat, from: string, to: string): Verdict {
  const [sn, sp] = splitRef(from);
  const [tn, tp] = splitRef(to);
  if (sn === tn) return { ok: false, reason: `'${sn}' cannot feed itself` };
  const out = findNode(graph, sn)?.outputs.find((p) => p.name === sp);
  const inp = findNode(graph, tn)?.inputs.find((p) => p.name === tp);
  if (!out) return { ok: false, reason: `'${sn}' has no output '${sp}'` };
  if (!inp) return { ok: false, reason: `'${tn}' has no input '${tp}'` };
  if (!fits(compat, out.type, inp.type))
    return { ok: false, reason: `expected ${inp.type}, got ${out.type} (input '${tp}' of '${tn}')` };
  if (graph.edges.some((e) => e.from === from && e.to === to))
    return { ok: false, reason: `'${from}' already feeds '${to}'` };
  if (!inp.multiple && graph.edges.some((e) => e.to === to))
    return { ok: false, reason: `input '${tp}' of '${tn}' already has an edge; delete it first` };
  if (!out.static && reaches(graph, tn, sn))
    return { ok: false, reason: `'${tn}' already feeds '${sn}': this edge would make a loop` };
  return { ok: true, type: out.type };
}

/** True when `start` reaches `goal` along edges that order nodes (static outputs do not). */
export function reaches(graph: Graph, start: string, goal: string): boolean {
  const staticOut = new Set<string>();
  for (const n of graph.nodes) for (const p of n.outputs) if (p.static) staticOut.add(`${n.id}.${p.name}`);
  const next = new Map<string, string[]>();
  for (const e of graph.edges) {
    if (staticOut.has(e.from)) continue;
    const s = splitRef(e.from)[0];
    next.set(s, [...(next.get(s) ?? []), splitRef(e.to)[0]]);
  }
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length) {
    const cur = todo.pop()!;
    if (cur === goal) return true;
    for (const n of next.get(cur) ?? []) if (!seen.has(n)) { seen.add(n); todo.push(n); }
  }
  return false;
}

/** For add + connect: the port of a catalog type that fits a dangling connection, or null.
 * `side` is the side of the handle the drag started from; exact type matches win,
 * then required inputs. */
export function matchingPort(entry: CatalogEntry, compat: Compat, side: "out" | "in", type: string): string | null {
  if (side === "out") {
    const ok = entry.inputs.filter((p: InPort) => fits(compat, type, p.type));
    ok.sort((a, b) => rank(a.type === type, !!a.required) - rank(b.type === type, !!b.required));
    return ok[0]?.name ?? null;
  }
  const ok = entry.outputs.filter((p: OutPort) => fits(compat, p.type, type));
  ok.sort((a, b) => rank(a.type === type, true) - rank(b.type === type, true));
  return ok[0]?.name ?? null;
}

const rank = (exact: boolean, required: boolean): number => (exact ? 0 : 2) + (required ? 0 : 1);

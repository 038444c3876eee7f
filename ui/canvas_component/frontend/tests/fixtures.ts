import type { CatalogEntry, Compat, GNode, Graph } from "../src/types";

const TYPES = ["Any", "Text", "Documents", "LanguageModel", "JSON"];
// engine.ports.fits as a table: equal types, or either side Any.
export const COMPAT: Compat = Object.fromEntries(
  TYPES.map((s) => [s, TYPES.filter((t) => s === t || s === "Any" || t === "Any").sort()]));

export const CATALOG: CatalogEntry[] = [
  { type: "input.text", family: "input", title: "Text input", description: "", role: "input", inputs: [], outputs: [{ name: "text", type: "Text" }] },
  { type: "text.split", family: "text", title: "Split", description: "", inputs: [{ name: "documents", type: "Documents", required: true }], outputs: [{ name: "documents", type: "Documents" }] },
  { type: "demo.llm", family: "demo", title: "Model", description: "", inputs: [{ name: "model", type: "LanguageModel", required: false }, { name: "prompt", type: "Text", required: true }], outputs: [{ name: "text", type: "Text" }] },
  { type: "demo.join", family: "demo", title: "Join", description: "", inputs: [{ name: "values", type: "Text", required: true, multiple: true }], outputs: [{ name: "text", type: "Text" }] },
  { type: "demo.any", family: "demo", title: "Any", description: "", inputs: [{ name: "value", type: "Any", required: true }], outputs: [{ name: "value", type: "Any" }] },
  { type: "demo.parser", family: "demo", title: "Parser", description: "", inputs: [{ name: "text", type: "Text", required: true }], outputs: [{ name: "format", type: "Text", static: true }, { name: "data", type: "JSON" }] },
];

export function node(id: string, type: string, x = 0, y = 0, config: Record<string, unknown> = {}): GNode {
  const e = CATALOG.find((c) => c.type === type)!;
  return { id, type, title: e.title, name: "", position: [x, y], config, inputs: e.inputs, outputs: e.outputs, problems: [] };
}

/** q -> llm -> join, plus a splitter. */
export function sample(): Graph {
  return {
    nodes: [node("q", "input.text"), node("llm", "demo.llm", 300, 0, { temperature: 0 }), node("join", "demo.join", 600, 0), node("split", "text.split", 0, 200)],
    edges: [{ from: "q.text", to: "llm.prompt", type: "Text" }, { from: "llm.text", to: "join.values", type: "Text" }],
  };
}

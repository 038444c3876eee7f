// The protocol's data shapes (see ../../PROTOCOL.md). Pure types, no React.

export type XY = [number, number];

export interface InPort {
  name: string;
  type: string;
  required?: boolean;
  multiple?: boolean;
  description?: string;
}

export interface OutPort {
  name: string;
  type: string;
  description?: string;
  static?: boolean;
}

export interface GNode {
  id: string;
  type: string;
  title: string;
  name?: string;
  position: XY | null;
  config?: Record<string, unknown>;
  summary?: string;
  role?: string | null;
  inputs: InPort[];
  outputs: OutPort[];
  problems?: string[];
}

export interface GEdge {
  from: string;
  to: string;
  type?: string;
  problem?: string | null;
}

export interface Graph {
  id?: string;
  nodes: GNode[];
  edges: GEdge[];
}

export interface CatalogEntry {
  type: string;
  family: string;
  title: string;
  description: string;
  role?: string | null;
  inputs: InPort[];
  outputs: OutPort[];
}

export type Compat = Record<string, string[]>;

export interface Status {
  state: string;
  time_ms?: number | null;
  tokens?: number | null;
  reason?: string | null;
}

export interface Example {
  id: string;
  name: string;
  description?: string;
  kind?: string;
}

export interface PasteNode {
  id: string;
  type: string;
  name?: string;
  position: XY;
  config?: Record<string, unknown>;
}

export type Op =
  | { op: "add_node"; id: string; type: string; position: XY }
  | { op: "remove"; nodes: string[]; edges: { from: string; to: string }[] }
  | { op: "connect"; from: string; to: string }
  | { op: "move"; positions: Record<string, XY> }
  | { op: "select"; id: string | null; panel: "properties" | "outputs" | null }
  | { op: "set_config"; id: string; config: Record<string, unknown>; name?: string }
  | { op: "paste"; nodes: PasteNode[]; edges: { from: string; to: string }[] }
  | { op: "action"; name: string; arg?: unknown };

export interface Batch {
  seq: number;
  base: number;
  ops: Op[];
}

export interface Message extends Batch {
  pending: Batch[];
}

export const edgeId = (e: { from: string; to: string }): string => `${e.from}->${e.to}`;

/** "node.port" -> [node, port] (node ids and port names never contain a dot). */
export function splitRef(ref: string): [string, string] {
  const i = ref.indexOf(".");
  return i < 0 ? [ref, ""] : [ref.slice(0, i), ref.slice(i + 1)];
}

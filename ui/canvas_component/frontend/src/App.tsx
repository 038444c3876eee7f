// The canvas: React Flow with chainloom's nodes, the palette, the first-screen cards,
// the toolbar and the keyboard. Graph logic lives in the pure modules; this file
// wires them to React Flow and to Streamlit (see ../../PROTOCOL.md).
import {
  Background, MiniMap, Panel, ReactFlow, ReactFlowProvider, applyEdgeChanges, applyNodeChanges,
  useNodesInitialized, useReactFlow,
  type Connection, type Edge, type EdgeChange, type FinalConnectionState, type Node, type NodeChange, type OnSelectionChangeParams,
} from "@xyflow/react";
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { applyOps, changedByOthers, diffGraphs, reuseEqual, type Catalog } from "./apply";
import { copySelection, pasteOp, type Clip } from "./clipboard";
import { typeColor } from "./colors";
import { checkConnection, matchingPort, sourcesOf, targetsOf } from "./connect";
import { History } from "./history";
import { idStem, uniqueId } from "./ids";
import { elkLayout } from "./layout";
import { ActionsContext, NodeView, type CanvasNodeData } from "./NodeView";
import { Outbox } from "./outbox";
import { DRAG_TYPE, Palette } from "./Palette";
import { NODE_W, clampInto, freeSpot, nodeHeight, type Rect } from "./placement";
import { onRender, setComponentValue, setFrameHeight } from "./streamlit";
import { EdgeActionsContext, TypedEdge, type CanvasEdgeData } from "./TypedEdge";
import type { CatalogEntry, Compat, Example, Graph, Op, Status, XY } from "./types";
import { edgeId, splitRef } from "./types";

interface Args {
  graph: Graph;
  revision: number;
  ack: number;
  catalog: CatalogEntry[];
  compat: Compat;
  statuses: Record<string, Status>;
  selected: string | null;
  examples: Example[];
  options: { height?: number; minimap?: "auto" | boolean; palette?: boolean };
  notice: { id: number; level: string; text: string } | null;
}

const EMPTY: Graph = { nodes: [], edges: [] };
const READABLE = 0.6;   // the automatic fit never zooms out below this: text stays legible
const nodeTypes = { cl: NodeView };
const edgeTypes = { typed: TypedEdge };
type CNode = Node<CanvasNodeData>;
type CEdge = Edge<CanvasEdgeData>;

const sameStatus = (a: Status | undefined, b: Status | undefined): boolean =>
  a === b || (!!a && !!b && a.state === b.state && a.time_ms === b.time_ms && a.tokens === b.tokens && a.reason === b.reason);

/** `prev` itself when `next` holds the same elements: React Flow then skips its work. */
const unchanged = <T,>(prev: T[], next: T[]): T[] =>
  prev.length === next.length && next.every((x, i) => x === prev[i]) ? prev : next;

interface Dangling { side: "out" | "in"; node: string; port: string; type: string; x: number; y: number; at: XY }

export function App() {
  const [args, setArgs] = useState<Args | null>(null);
  useEffect(() => onRender((a) => setArgs(a as unknown as Args)), []);
  useEffect(() => { setFrameHeight(args?.options?.height ?? 720); }, [args?.options?.height]);
  if (!args) return <div className="cl-loading">Loading the canvas…</div>;
  return (
    <ReactFlowProvider>
      <Canvas args={args} />
    </ReactFlowProvider>
  );
}

function Canvas({ args }: { args: Args }) {
  const rf = useReactFlow<CNode, CEdge>();
  const [graph, setGraphState] = useState<Graph>(EMPTY);
  const graphRef = useRef<Graph>(EMPTY);
  const [nodes, setNodes] = useState<CNode[]>([]);
  const [edges, setEdges] = useState<CEdge[]>([]);
  const [toast, setToast] = useState<{ text: string; level: string; n: number } | null>(null);
  const [dangling, setDangling] = useState<Dangling | null>(null);
  const [minimap, setMinimap] = useState<boolean | null>(null);
  const [ready, setReady] = useState(false);
  const [, bump] = useState(0);
  const outbox = useRef<Outbox | null>(null);
  const history = useRef(new History(100));
  const taken = useRef<number | null>(null);
  const lastSelected = useRef<string | null | undefined>(undefined);
  const pythonSelected = useRef<string | null | undefined>(undefined);
  const noticeId = useRef<number | null>(null);
  const clip = useRef<Clip | null>(null);
  const pastes = useRef(0);
  const needFit = useRef(true);
  const selectOnly = useRef<Set<string> | null>(null);   // select exactly these once they are drawn
  const viewRectRef = useRef<() => Rect>(() => ({ x: -1e6, y: -1e6, w: 2e6, h: 2e6 }));
  const syncRef = useRef<(g: Graph, st: Record<string, Status>) => void>(() => undefined);
  const dimStyle = useRef<HTMLStyleElement | null>(null);
  const wrapper = useRef<HTMLDivElement | null>(null);
  const initialized = useNodesInitialized();
  const catalog: Catalog = useMemo(() => new Map(args.catalog.map((c) => [c.type, c])), [args.catalog]);
  const statuses = args.statuses ?? {};

  const setGraph = useCallback((g: Graph) => {
    graphRef.current = g;
    setGraphState(g);
    syncRef.current(g, statusesRef.current);
  }, []);
  const flash = useCallback((text: string, level = "error") => setToast((t) => ({ text, level, n: (t?.n ?? 0) + 1 })), []);

  const send = useCallback((ops: Op[]) => {
    if (!ops.length || !outbox.current) return;
    setComponentValue(outbox.current.send(ops, taken.current ?? 0));
  }, []);

  /** Apply `ops` locally (optimistic), remember the previous graph for undo, send them. */
  const commit = useCallback((ops: Op[], record = true) => {
    const before = graphRef.current;
    const semantic = ops.filter((o) => o.op !== "select" && o.op !== "action");
    if (semantic.length) {
      if (record) history.current.record(before);
      setGraph(applyOps(before, semantic, catalog));
    }
    send(ops);
    bump((n) => n + 1);
  }, [catalog, send, setGraph]);

  // ---- Python -> component: take a new revision only when it has seen all our batches
  useEffect(() => {
    if (!outbox.current) outbox.current = new Outbox(args.ack ?? 0);
    const box = outbox.current;
    box.acknowledge(args.ack ?? 0);
    if (!box.settled(args.ack ?? 0)) return;
    if (args.revision !== taken.current) {
      const incoming = reuseEqual(graphRef.current, args.graph ?? EMPTY);
      if (incoming.id !== graphRef.current.id) history.current = new History(100);   // another flow
      else if (taken.current !== null && changedByOthers(graphRef.current, incoming)) history.current.record(graphRef.current);
      taken.current = args.revision;
      setGraph(incoming);
      if (incoming.nodes.length === 0) needFit.current = true;
    }
    if (args.selected !== pythonSelected.current) {
      pythonSelected.current = args.selected;
      lastSelected.current = args.selected;
      const sel = args.selected;
      setNodes((ns) => ns.map((n) => (n.selected === (n.id === sel) ? n : { ...n, selected: n.id === sel })));
      setEdges((es) => es.map((e) => (e.selected === (e.id === sel) ? e : { ...e, selected: e.id === sel })));
    }
  }, [args, setGraph]);

  useEffect(() => {
    const n = args.notice;
    if (n && n.id !== noticeId.current) { noticeId.current = n.id; flash(n.text, n.level); }
  }, [args.notice, flash]);

  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), 5000);
    return () => clearTimeout(t);
  }, [toast]);

  // ---- graph -> React Flow elements, in the same render as the graph change (one
  // pass: an edge is drawn on the first frame after mouse up); unchanged ones are reused
  const sync = useCallback((g: Graph, st: Record<string, Status>) => {
    const only = selectOnly.current;
    selectOnly.current = null;
    setNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      return unchanged(prev, g.nodes.map((gn, i) => {
        const p = old.get(gn.id);
        const status = sameStatus(p?.data.status, st[gn.id]) ? p?.data.status : st[gn.id];
        const selected = only ? only.has(gn.id) : p?.selected ?? gn.id === lastSelected.current;
        if (p && p.data.node === gn && p.data.status === status) return p.selected === selected ? p : { ...p, selected };
        const position = gn.position ? { x: gn.position[0], y: gn.position[1] } : p?.position ?? { x: 40 + (i % 8) * 280, y: 40 + Math.floor(i / 8) * 200 };
        return { ...(p ?? {}), id: gn.id, type: "cl", position, data: { node: gn, status }, selected } as CNode;
      }));
    });
    setEdges((prev) => {
      const old = new Map(prev.map((e) => [e.id, e]));
      return unchanged(prev, g.edges.map((e) => {
        const id = edgeId(e);
        const p = old.get(id);
        if (p && p.data?.type === e.type && p.data?.problem === e.problem) return p;
        const [s, sp] = splitRef(e.from), [t, tp] = splitRef(e.to);
        return { id, source: s, target: t, sourceHandle: `out-${sp}`, targetHandle: `in-${tp}`, type: "typed",
                 data: { type: e.type, problem: e.problem }, selected: p?.selected ?? false } as CEdge;
      }));
    });
  }, []);
  const statusesRef = useRef(statuses);
  statusesRef.current = statuses;
  syncRef.current = sync;
  useEffect(() => { sync(graphRef.current, statuses); }, [statuses, sync]);

  // ---- layout: nodes without a position get an elk layout, then one move op
  const sizes = useCallback(() => {
    const m = new Map<string, { w: number; h: number }>();
    for (const n of rf.getNodes()) if (n.measured?.width && n.measured?.height) m.set(n.id, { w: n.measured.width, h: n.measured.height });
    return m;
  }, [rf]);

  const fitReadable = useCallback(() => {
    const all = rf.getNodes();
    if (!all.length) return;
    void rf.fitView({ padding: 0.08, maxZoom: 1, duration: 0 }).then(() => {
      if (rf.getViewport().zoom >= READABLE) return;
      const minX = Math.min(...all.map((n) => n.position.x)), minY = Math.min(...all.map((n) => n.position.y));
      void rf.setViewport({ x: -minX * READABLE + 20, y: -minY * READABLE + 20, zoom: READABLE });
    });
  }, [rf]);

  useEffect(() => {
    const missing = graph.nodes.filter((n) => !n.position);
    if (!missing.length) return;
    let live = true;
    void elkLayout(graph, sizes()).then((pos) => {
      if (!live) return;
      const all = missing.length * 2 > graph.nodes.length;
      const positions: Record<string, XY> = {};
      for (const n of graph.nodes) if (all || !n.position) positions[n.id] = pos[n.id];
      needFit.current = true;
      commit([{ op: "move", positions }], false);
    });
    return () => { live = false; };
  }, [graph, sizes, commit]);

  const positioned = graph.nodes.every((n) => n.position);
  useEffect(() => {
    if (initialized && positioned && needFit.current && nodes.length) {
      needFit.current = false;
      fitReadable();
    }
    if ((initialized || graph.nodes.length === 0) && positioned && taken.current !== null) setReady(true);
  }, [initialized, positioned, nodes.length, graph.nodes.length, fitReadable]);

  const autoLayout = useCallback(() => {
    void elkLayout(graphRef.current, sizes()).then((positions) => {
      commit([{ op: "move", positions }]);
      setTimeout(fitReadable, 30);
    });
  }, [commit, sizes, fitReadable]);

  // ---- selection, moves, connections
  const onNodesChange = useCallback((changes: NodeChange<CNode>[]) => {
    setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns));
  }, []);
  const onEdgesChange = useCallback((changes: EdgeChange<CEdge>[]) => {
    setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), es));
  }, []);

  const onSelectionChange = useCallback(({ nodes: ns, edges: es }: OnSelectionChangeParams) => {
    const id = ns.length === 1 ? ns[0].id : ns.length === 0 && es.length === 1 ? es[0].id : null;
    if (ns.length > 1) return;   // a multi-selection keeps the panel on what it shows
    if (id === lastSelected.current) return;
    lastSelected.current = id;
    send([{ op: "select", id, panel: id ? "properties" : null }]);
  }, [send]);

  const onNodeDragStop = useCallback((_e: unknown, _n: CNode, dragged: CNode[]) => {
    const positions: Record<string, XY> = {};
    const byId = new Map(graphRef.current.nodes.map((n) => [n.id, n]));
    for (const n of dragged) {
      const old = byId.get(n.id)?.position;
      const xy: XY = [Math.round(n.position.x * 10) / 10, Math.round(n.position.y * 10) / 10];
      if (!old || Math.abs(old[0] - xy[0]) > 0.05 || Math.abs(old[1] - xy[1]) > 0.05) positions[n.id] = xy;
    }
    if (Object.keys(positions).length) commit([{ op: "move", positions }]);
  }, [commit]);

  const refs = (c: Connection | Edge) => ({
    from: `${c.source}.${(c.sourceHandle ?? "").replace(/^out-/, "")}`,
    to: `${c.target}.${(c.targetHandle ?? "").replace(/^in-/, "")}`,
  });

  const isValidConnection = useCallback((c: Connection | Edge) => {
    const { from, to } = refs(c);
    return checkConnection(graphRef.current, args.compat, from, to).ok;
  }, [args.compat]);

  const onConnect = useCallback((c: Connection) => {
    const { from, to } = refs(c);
    if (checkConnection(graphRef.current, args.compat, from, to).ok) commit([{ op: "connect", from, to }]);
  }, [args.compat, commit]);

  const dim = useCallback((css: string) => {
    if (!dimStyle.current) { dimStyle.current = document.createElement("style"); document.head.appendChild(dimStyle.current); }
    dimStyle.current.textContent = css;
  }, []);

  const onConnectStart = useCallback((_e: unknown, p: { nodeId: string | null; handleId: string | null; handleType: "source" | "target" | null }) => {
    setDangling(null);
    if (!p.nodeId || !p.handleId) return;
    const node = graphRef.current.nodes.find((n) => n.id === p.nodeId);
    const fromOut = p.handleType === "source";
    const port = p.handleId.replace(/^(out|in)-/, "");
    const type = (fromOut ? node?.outputs : node?.inputs)?.find((x) => x.name === port)?.type ?? "Any";
    const ok = fromOut ? targetsOf(args.compat, type) : sourcesOf(args.compat, type);
    const side = fromOut ? "in" : "out";
    const not = ok.map((t) => `:not([data-ptype="${t}"])`).join("");
    dim(`.cl-handle-${side}${not} { opacity: .15; filter: grayscale(1); }
         .cl-handle-${fromOut ? "out" : "in"} { opacity: .15; }
         .cl-handle-${side}:not(.cl-x)${not} + .cl-pname { opacity: .35; }`);
  }, [args.compat, dim]);

  const onConnectEnd = useCallback((event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    dim("");
    if (state.isValid || !state.fromHandle || !state.fromNode) return;
    const fromOut = state.fromHandle.type === "source";
    const port = (state.fromHandle.id ?? "").replace(/^(out|in)-/, "");
    const me = `${state.fromNode.id}.${port}`;
    if (state.toHandle && state.toNode) {
      if (state.toHandle.type === state.fromHandle.type) { flash(`connect an ${fromOut ? "output to an input" : "input to an output"}`); return; }
      const other = `${state.toNode.id}.${(state.toHandle.id ?? "").replace(/^(out|in)-/, "")}`;
      const v = fromOut ? checkConnection(graphRef.current, args.compat, me, other) : checkConnection(graphRef.current, args.compat, other, me);
      if (!v.ok) flash(`Not connected: ${v.reason}`);
      return;
    }
    const target = (event as MouseEvent).target as Element | null;
    if (!target?.closest?.(".react-flow__pane")) return;
    const pt = "changedTouches" in event ? event.changedTouches[0] : (event as MouseEvent);
    const node = graphRef.current.nodes.find((n) => n.id === state.fromNode!.id);
    const type = (fromOut ? node?.outputs : node?.inputs)?.find((x) => x.name === port)?.type ?? "Any";
    const bounds = wrapper.current!.getBoundingClientRect();
    const at = rf.screenToFlowPosition({ x: pt.clientX, y: pt.clientY });
    setDangling({ side: fromOut ? "out" : "in", node: state.fromNode.id, port, type,
                  x: pt.clientX - bounds.left, y: pt.clientY - bounds.top, at: [Math.round(at.x), Math.round(at.y)] });
  }, [args.compat, dim, flash, rf]);

  // ---- adding nodes: palette drop, click-to-add, add + connect
  const newId = (type: string) => uniqueId(idStem(type), new Set(graphRef.current.nodes.map((n) => n.id)));

  const addAt = useCallback((type: string, at: XY, extra: (id: string) => Op[] = () => [], clamp = true) => {
    const id = newId(type);
    const entry = catalog.get(type);
    const position = !clamp ? at : clampInto(at, { w: NODE_W, h: nodeHeight(entry?.inputs.length ?? 1, entry?.outputs.length ?? 1) }, viewRectRef.current());
    lastSelected.current = id;
    selectOnly.current = new Set([id]);
    commit([{ op: "add_node", id, type, position }, ...extra(id), { op: "select", id, panel: "properties" }]);
    return id;
  }, [catalog, commit]);

  const viewRect = useCallback((): Rect => {
    const b = wrapper.current?.getBoundingClientRect();
    const tl = rf.screenToFlowPosition({ x: (b?.left ?? 0) + 10, y: (b?.top ?? 0) + 50 });
    const br = rf.screenToFlowPosition({ x: (b?.right ?? 800) - 10, y: (b?.bottom ?? 600) - 10 });
    return { x: tl.x, y: tl.y, w: br.x - tl.x, h: br.y - tl.y };
  }, [rf]);
  viewRectRef.current = viewRect;

  const rects = useCallback((): Rect[] => rf.getNodes().map((n) => ({
    x: n.position.x, y: n.position.y, w: n.measured?.width ?? NODE_W,
    h: n.measured?.height ?? nodeHeight(n.data.node.inputs.length, n.data.node.outputs.length),
  })), [rf]);

  const clickAdd = useCallback((type: string) => {
    const entry = catalog.get(type);
    const size = { w: NODE_W, h: nodeHeight(entry?.inputs.length ?? 1, entry?.outputs.length ?? 1) };
    const sel = rf.getNodes().filter((n) => n.selected);
    const near = sel.length ? rects().find((r, i) => rf.getNodes()[i].id === sel[sel.length - 1].id) ?? null : null;
    const view = viewRect();
    const spot = freeSpot(rects(), size, view, near);
    addAt(type, spot, undefined, false);
    const r = { x: spot[0], y: spot[1], ...size };
    if (r.x < view.x || r.y < view.y || r.x + r.w > view.x + view.w || r.y + r.h > view.y + view.h)
      void rf.setCenter(r.x + r.w / 2, r.y + r.h / 2, { zoom: rf.getViewport().zoom, duration: 0 });
  }, [addAt, catalog, rects, rf, viewRect]);

  const onDrop = useCallback((e: React.DragEvent) => {
    const type = e.dataTransfer.getData(DRAG_TYPE);
    if (!type) return;
    e.preventDefault();
    const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    addAt(type, [Math.round(p.x - NODE_W / 2), Math.round(p.y - 20)]);
  }, [addAt, rf]);

  const pickForDangling = useCallback((type: string) => {
    const d = dangling;
    setDangling(null);
    if (!d) return;
    const entry = catalog.get(type);
    const port = entry ? matchingPort(entry, args.compat, d.side, d.type) : null;
    if (!port) { flash(`${type} has no port that fits ${d.type}`); return; }
    const pos: XY = d.side === "out" ? [d.at[0], d.at[1] - 40] : [d.at[0] - NODE_W, d.at[1] - 40];
    addAt(type, pos, (id) => [d.side === "out"
      ? { op: "connect", from: `${d.node}.${d.port}`, to: `${id}.${port}` }
      : { op: "connect", from: `${id}.${port}`, to: `${d.node}.${d.port}` }]);
  }, [addAt, args.compat, catalog, dangling, flash]);

  const danglingCatalog = useMemo(() => {
    if (!dangling) return [];
    return args.catalog.filter((c) => matchingPort(c, args.compat, dangling.side, dangling.type) !== null);
  }, [dangling, args.catalog, args.compat]);

  // ---- editing: delete, undo/redo, copy/paste, save
  const removeSelection = useCallback(() => {
    const ns = rf.getNodes().filter((n) => n.selected).map((n) => n.id);
    const gone = new Set(ns);
    const es = graphRef.current.edges
      .filter((e) => gone.has(splitRef(e.from)[0]) || gone.has(splitRef(e.to)[0]) || rf.getEdges().some((x) => x.selected && x.id === edgeId(e)))
      .map(({ from, to }) => ({ from, to }));
    if (!ns.length && !es.length) return;
    lastSelected.current = null;
    commit([{ op: "remove", nodes: ns, edges: es }, { op: "select", id: null, panel: null }]);
  }, [commit, rf]);

  const removeEdge = useCallback((id: string) => {
    const e = graphRef.current.edges.find((x) => edgeId(x) === id);
    if (e) commit([{ op: "remove", nodes: [], edges: [{ from: e.from, to: e.to }] }]);
  }, [commit]);

  const travel = useCallback((dir: "undo" | "redo") => {
    const cur = graphRef.current;
    const target = dir === "undo" ? history.current.undo(cur) : history.current.redo(cur);
    if (!target) { flash(`Nothing to ${dir}`, "info"); return; }
    setGraph(target);
    send(diffGraphs(cur, target));
    bump((n) => n + 1);
  }, [flash, send, setGraph]);

  const paste = useCallback(() => {
    if (!clip.current) return;
    pastes.current += 1;
    const op = pasteOp(clip.current, graphRef.current, 40 * pastes.current);
    if (!op || op.op !== "paste") return;
    selectOnly.current = new Set(op.nodes.map((n) => n.id));
    commit([op]);
  }, [commit]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (!mod && (e.key === "Delete" || e.key === "Backspace")) { e.preventDefault(); removeSelection(); }
      else if (mod && k === "z" && !e.shiftKey) { e.preventDefault(); travel("undo"); }
      else if (mod && ((k === "z" && e.shiftKey) || k === "y")) { e.preventDefault(); travel("redo"); }
      else if (mod && k === "c") {
        const ids = rf.getNodes().filter((n) => n.selected).map((n) => n.id);
        if (ids.length) { clip.current = copySelection(graphRef.current, ids); pastes.current = 0; flash(`Copied ${ids.length} node${ids.length > 1 ? "s" : ""}`, "info"); }
      }
      else if (mod && k === "v") { e.preventDefault(); paste(); }
      else if (mod && k === "s") { e.preventDefault(); send([{ op: "action", name: "save" }]); flash("Saving…", "info"); }
      else if (e.key === "Escape") setDangling(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [flash, paste, removeSelection, rf, send, travel]);

  const nodeActions = useMemo(() => ({
    openOutputs: (id: string) => { lastSelected.current = id; send([{ op: "select", id, panel: "outputs" }]); },
  }), [send]);
  const edgeActions = useMemo(() => ({ removeEdge }), [removeEdge]);

  const showMinimap = minimap ?? (args.options?.minimap === "auto" || args.options?.minimap === undefined
    ? graph.nodes.length >= 30 : !!args.options?.minimap);
  const height = args.options?.height ?? 720;
  const examples = args.examples ?? [];

  return (
    <ActionsContext.Provider value={nodeActions}>
      <EdgeActionsContext.Provider value={edgeActions}>
        <div className="cl-root" data-testid="canvas-root" style={{ height }}
             data-seq={outbox.current?.lastSeq ?? 0} data-ack={args.ack ?? 0} data-revision={taken.current ?? ""}>
          {args.options?.palette !== false ? (
            <aside className="cl-side">
              <Palette catalog={args.catalog} onPick={clickAdd} />
              {showMinimap ? (
                <div className="cl-minimap-box">
                  <MiniMap pannable zoomable style={{ position: "relative", margin: 0, width: 228, height: 150 }}
                           bgColor="#ffffff" maskColor="rgba(226, 232, 240, 0.65)" maskStrokeColor="#6366f1" maskStrokeWidth={2}
                           nodeStrokeColor="#64748b" nodeBorderRadius={4}
                           nodeColor={(n) => (n as CNode).data?.node?.problems?.length ? "#fca5a5" : "#cbd5e1"} />
                </div>
              ) : null}
            </aside>
          ) : null}
          <div className="cl-flow" data-testid="canvas-flow" ref={wrapper} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}>
            <ReactFlow<CNode, CEdge>
              nodes={nodes} edges={edges} nodeTypes={nodeTypes} edgeTypes={edgeTypes}
              onNodesChange={onNodesChange} onEdgesChange={onEdgesChange}
              onSelectionChange={onSelectionChange} onNodeDragStop={onNodeDragStop}
              onConnect={onConnect} onConnectStart={onConnectStart} onConnectEnd={onConnectEnd}
              isValidConnection={isValidConnection}
              onPaneClick={() => setDangling(null)}
              deleteKeyCode={null} selectionKeyCode="Shift" multiSelectionKeyCode={["Shift", "Meta", "Control"]}
              zoomOnDoubleClick={false} minZoom={0.1} maxZoom={2} connectionRadius={24}
              onlyRenderVisibleElements={graph.nodes.length > 200}
              defaultEdgeOptions={{ type: "typed" }}
              connectionLineStyle={{ strokeWidth: 2.5, stroke: "#334155" }}
              proOptions={{ hideAttribution: true }}>
              <Background gap={20} size={1} color="#e2e8f0" />
              <Panel position="top-right" className="cl-toolbar">
                <button data-testid="toolbar-layout" title="Auto layout (elk layered)" onClick={autoLayout}>⇶ Layout</button>
                <button data-testid="toolbar-fit" title="Fit the whole flow in view"
                        onClick={() => void rf.fitView({ padding: 0.08, maxZoom: 1, minZoom: 0.1, duration: 0 })}>⤢ Fit</button>
                <button data-testid="toolbar-zoom-in" title="Zoom in" onClick={() => void rf.zoomIn({ duration: 0 })}>+</button>
                <button data-testid="toolbar-zoom-out" title="Zoom out" onClick={() => void rf.zoomOut({ duration: 0 })}>−</button>
                <button data-testid="toolbar-undo" title="Undo (Ctrl+Z)" disabled={!history.current.canUndo} onClick={() => travel("undo")}>↶</button>
                <button data-testid="toolbar-redo" title="Redo (Ctrl+Shift+Z)" disabled={!history.current.canRedo} onClick={() => travel("redo")}>↷</button>
                <button data-testid="toolbar-minimap" title="Show or hide the minimap" className={showMinimap ? "on" : ""}
                        onClick={() => setMinimap(!showMinimap)}>▣ Map</button>
              </Panel>
              <Panel position="bottom-left" className="cl-legend">
                {[...new Set(graph.edges.map((e) => e.type ?? "Any"))].sort().map((t) => (
                  <span key={t}><i style={{ background: typeColor(t) }} />{t}</span>
                ))}
              </Panel>
            </ReactFlow>
            {graph.nodes.length === 0 && taken.current !== null ? (
              <div className="cl-first">
                <div className="cl-first-box">
                  <h2>Start a flow</h2>
                  <p>Open an example or a starter template, or drag a node from the palette on the left.</p>
                  <div className="cl-cards">
                    {examples.map((ex) => (
                      <button key={ex.id} className={`cl-card cl-card-${ex.kind ?? "example"}`} data-testid={`card-${ex.id}`}
                              onClick={() => send([{ op: "action", name: "open_example", arg: ex.id }])}>
                        <span className="cl-card-kind">{ex.kind === "template" ? "template" : "example"}</span>
                        <strong>{ex.name}</strong>
                        <span className="cl-card-desc">{ex.description}</span>
                      </button>
                    ))}
                  </div>
                </div>
              </div>
            ) : null}
            {dangling ? (
              <div className="cl-popup" style={{ left: Math.min(dangling.x, (wrapper.current?.clientWidth ?? 800) - 300), top: Math.min(dangling.y, height - 330) }}>
                <div className="cl-popup-head">Add a node that takes {dangling.side === "out" ? "" : "gives "}<b style={{ color: typeColor(dangling.type) }}>{dangling.type}</b>
                  <button onClick={() => setDangling(null)} title="Close">✕</button></div>
                <Palette catalog={danglingCatalog} onPick={pickForDangling} autoFocus compact testid="connect-palette" />
              </div>
            ) : null}
            {toast ? (
              <div key={toast.n} className={`cl-toast cl-toast-${toast.level}`} data-testid="canvas-toast" role="status">{toast.text}</div>
            ) : null}
            {ready ? <span data-testid="canvas-ready" hidden /> : null}
          </div>
        </div>
      </EdgeActionsContext.Provider>
    </ActionsContext.Provider>
  );
}

// How one flow node looks: title, type, one handle per port (inputs left, outputs
// right) coloured by type, required inputs marked, a config summary, problem and
// run status badges, and an "outputs" button after a run.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { createContext, memo, useContext } from "react";
import { ROLE_COLORS, typeColor } from "./colors";
import { NODE_W } from "./placement";
import type { GNode, Status } from "./types";

export interface NodeActions {
  openOutputs: (id: string) => void;
}

export const ActionsContext = createContext<NodeActions>({ openOutputs: () => undefined });

export type CanvasNodeData = { node: GNode; status?: Status };

const STATUS_TEXT: Record<string, string> = {
  queued: "queued", running: "running", done: "done", failed: "failed",
  skipped: "skipped", cached: "cached", cancelled: "cancelled",
};

function statusLine(s: Status): string {
  const parts = [STATUS_TEXT[s.state] ?? s.state];
  if (s.time_ms != null) parts.push(s.time_ms >= 1000 ? `${(s.time_ms / 1000).toFixed(1)} s` : `${Math.round(s.time_ms)} ms`);
  if (s.tokens != null) parts.push(`${s.tokens} tok`);
  return parts.join(" · ");
}

function StatusBadge({ id, status }: { id: string; status: Status }) {
  return (
    <div className={`cl-status cl-status-${status.state}`} data-testid={`status-${id}`}
         title={status.reason ? `${status.state}: ${status.reason}` : statusLine(status)}>
      {status.state === "running" && <span className="cl-spin" />}
      {statusLine(status)}
      {status.reason && <span className="cl-reason"> — {status.reason}</span>}
    </div>
  );
}

function NodeViewInner({ data, selected }: NodeProps & { data: CanvasNodeData }) {
  const { node, status } = data;
  const actions = useContext(ActionsContext);
  const problems = node.problems ?? [];
  const accent = ROLE_COLORS[node.role ?? ""] ?? "#475569";
  const done = status && ["done", "failed", "cached"].includes(status.state);
  return (
    <div className={`cl-node${selected ? " cl-selected" : ""}${problems.length ? " cl-invalid" : ""}${status ? ` cl-run-${status.state}` : ""}`}
         data-testid={`node-${node.id}`} style={{ width: NODE_W, borderTopColor: accent }}>
      <div className="cl-head">
        <div className="cl-titles">
          <div className="cl-title" title={node.title}>{node.title}</div>
          <div className="cl-type" title={`${node.type} · id ${node.id}`}>{node.type}{node.id !== node.title ? ` · ${node.id}` : ""}</div>
        </div>
        {problems.length > 0 && (
          <div className="cl-problems" data-testid={`problems-${node.id}`} title={problems.join("\n")}>⚠ {problems.length}</div>
        )}
      </div>
      {node.summary ? <div className="cl-summary" title={node.summary}>{node.summary}</div> : null}
      <div className="cl-ports">
        {node.inputs.map((p) => {
          const color = typeColor(p.type);
          return (
            <div className="cl-port cl-in" key={`in-${p.name}`} title={`${p.name}: ${p.type}${p.required ? ", required" : ", optional"}${p.multiple ? ", takes many" : ""}${p.description ? " — " + p.description : ""}`}>
              <Handle type="target" position={Position.Left} id={`in-${p.name}`}
                      className="cl-handle cl-handle-in" data-ptype={p.type}
                      data-testid={`handle-${node.id}-in-${p.name}`}
                      style={{ borderColor: color, background: p.required ? color : "#fff" }} />
              <span className="cl-pname">{p.name}{p.required ? <b className="cl-req">*</b> : null}</span>
              <span className="cl-ptype" style={{ color }}>{p.type}{p.multiple ? " ×n" : ""}</span>
            </div>
          );
        })}
        {node.outputs.map((p) => {
          const color = typeColor(p.type);
          return (
            <div className="cl-port cl-out" key={`out-${p.name}`} title={`${p.name}: ${p.type}${p.description ? " — " + p.description : ""}`}>
              <span className="cl-ptype" style={{ color }}>{p.type}</span>
              <span className="cl-pname">{p.name}</span>
              <Handle type="source" position={Position.Right} id={`out-${p.name}`}
                      className="cl-handle cl-handle-out" data-ptype={p.type}
                      data-testid={`handle-${node.id}-out-${p.name}`}
                      style={{ borderColor: color, background: color }} />
            </div>
          );
        })}
      </div>
      {status ? (
        <div className="cl-foot">
          <StatusBadge id={node.id} status={status} />
          {done ? (
            <button className="cl-outputs nodrag" data-testid={`node-outputs-${node.id}`}
                    onClick={(e) => { e.stopPropagation(); actions.openOutputs(node.id); }}>outputs</button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

export const NodeView = memo(NodeViewInner);

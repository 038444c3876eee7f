// An edge drawn in its port type's colour; a selected edge offers delete.
import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from "@xyflow/react";
import { createContext, memo, useContext } from "react";
import { typeColor } from "./colors";

export const EdgeActionsContext = createContext<{ removeEdge: (id: string) => void }>({ removeEdge: () => undefined });

export type CanvasEdgeData = { type?: string; problem?: string | null };

function TypedEdgeInner(props: EdgeProps & { data?: CanvasEdgeData }) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected } = props;
  const actions = useContext(EdgeActionsContext);
  const [path, lx, ly] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  const color = data?.problem ? "#dc2626" : typeColor(data?.type);
  return (
    <g data-testid={`edge-${id}`} className="cl-edge">
      <BaseEdge id={id} path={path} interactionWidth={16}
                style={{ stroke: color, strokeWidth: selected ? 3.5 : 2, strokeDasharray: data?.problem ? "6 4" : undefined }} />
      {selected || data?.problem ? (
        <EdgeLabelRenderer>
          <div className="cl-edge-label nodrag nopan" style={{ transform: `translate(-50%, -50%) translate(${lx}px, ${ly}px)` }}>
            {data?.problem ? <span className="cl-edge-problem" title={data.problem}>⚠ {data.problem}</span> : null}
            {selected ? (
              <button data-testid="edge-delete" onClick={(e) => { e.stopPropagation(); actions.removeEdge(id); }}>✕ delete edge</button>
            ) : null}
          </div>
        </EdgeLabelRenderer>
      ) : null}
    </g>
  );
}

export const TypedEdge = memo(TypedEdgeInner);

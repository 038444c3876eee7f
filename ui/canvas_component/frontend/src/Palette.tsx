// The node palette: search, families, descriptions. Items can be dragged onto the
// canvas or clicked (click-to-add). Also used, filtered, for add + connect.
import { useMemo, useState } from "react";
import type { CatalogEntry } from "./types";

export const DRAG_TYPE = "application/x-chainloom-type";

interface Props {
  catalog: CatalogEntry[];
  onPick: (type: string) => void;
  autoFocus?: boolean;
  compact?: boolean;
  testid?: string;
}

const matches = (e: CatalogEntry, words: string[]): boolean => {
  const hay = `${e.title} ${e.type} ${e.family} ${e.description}`.toLowerCase();
  return words.every((w) => hay.includes(w));
};

export function Palette({ catalog, onPick, autoFocus, compact, testid = "palette" }: Props) {
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const families = useMemo(() => {
    const out = new Map<string, CatalogEntry[]>();
    for (const e of catalog) if (!words.length || matches(e, words)) out.set(e.family, [...(out.get(e.family) ?? []), e]);
    return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [catalog, query]);
  const searching = words.length > 0 || compact;
  const total = families.reduce((n, [, es]) => n + es.length, 0);
  return (
    <div className={`cl-palette${compact ? " cl-palette-compact" : ""}`} data-testid={testid}>
      <input className="cl-search" data-testid={`${testid}-search`} placeholder="Search nodes…" value={query}
             autoFocus={autoFocus} onChange={(e) => setQuery(e.target.value)}
             onKeyDown={(e) => {
               if (e.key === "Enter" && total > 0) onPick(families[0][1][0].type);
               e.stopPropagation();
             }} />
      <div className="cl-families">
        {families.map(([family, entries]) => {
          const shown = searching || open[family];
          return (
            <div className="cl-family" key={family}>
              <button className="cl-family-head" data-testid={`palette-family-${family}`}
                      onClick={() => setOpen({ ...open, [family]: !open[family] })}>
                <span>{shown ? "▾" : "▸"} {family}</span><span className="cl-count">{entries.length}</span>
              </button>
              {shown && entries.map((e) => (
                <div key={e.type} className="cl-item" data-testid={`palette-${e.type}`} draggable
                     title={`${e.description}\n\nClick to add, or drag onto the canvas.`}
                     onDragStart={(ev) => { ev.dataTransfer.setData(DRAG_TYPE, e.type); ev.dataTransfer.effectAllowed = "move"; }}
                     onClick={() => onPick(e.type)}>
                  <div className="cl-item-title">{e.title}<span className="cl-item-type">{e.type}</span></div>
                  <div className="cl-item-desc">{e.description}</div>
                </div>
              ))}
            </div>
          );
        })}
        {total === 0 ? <div className="cl-empty">No node type matches “{query}”.</div> : null}
      </div>
    </div>
  );
}

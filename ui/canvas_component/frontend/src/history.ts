// Undo/redo as a bounded history of graph snapshots. Pure; snapshots are shared, never mutated.
import type { Graph } from "./types";

export class History {
  private past: Graph[] = [];
  private future: Graph[] = [];

  constructor(private readonly limit = 100) {}

  /** Remember `before`, the graph as it was before a change; a new change drops the redo list. */
  record(before: Graph): void {
    this.past.push(before);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }

  /** The snapshot to go back to from `current`, or null when there is none. */
  undo(current: Graph): Graph | null {
    const prev = this.past.pop();
    if (!prev) return null;
    this.future.push(current);
    return prev;
  }

  redo(current: Graph): Graph | null {
    const next = this.future.pop();
    if (!next) return null;
    this.past.push(current);
    return next;
  }

  get canUndo(): boolean { return this.past.length > 0; }
  get canRedo(): boolean { return this.future.length > 0; }
}

// Messages to Python: seq numbers, the batches not yet acknowledged, and the ack
// rule that keeps a stale rerun from replacing newer local edits. Pure.
import type { Batch, Message, Op } from "./types";

export class Outbox {
  private pending: Batch[] = [];
  private last: number;

  /** `ack` is Python's ack when the component mounts: seq continues after it. */
  constructor(ack: number) {
    this.last = ack;
  }

  /** The message that sends `ops` made on top of graph revision `base`. */
  send(ops: Op[], base: number): Message {
    this.last += 1;
    const batch: Batch = { seq: this.last, base, ops };
    this.pending.push(batch);
    return { ...batch, pending: [...this.pending] };
  }

  /** Python has applied every batch up to `ack`. */
  acknowledge(ack: number): void {
    this.pending = this.pending.filter((b) => b.seq > ack);
    if (ack > this.last) this.last = ack;
  }

  /** May a graph from Python (sent with `ack`) replace the local one? Only when it
   * has seen every batch this component sent. */
  settled(ack: number): boolean {
    return ack >= this.last;
  }

  get lastSeq(): number { return this.last; }
}

import { describe, expect, it } from "vitest";
import { checkConnection, fits, matchingPort, sourcesOf, targetsOf } from "../src/connect";
import { CATALOG, COMPAT, node, sample } from "./fixtures";

describe("connection validity by type", () => {
  it("follows the compat table: equal types or Any", () => {
    expect(fits(COMPAT, "Text", "Text")).toBe(true);
    expect(fits(COMPAT, "Text", "Any")).toBe(true);
    expect(fits(COMPAT, "Any", "Documents")).toBe(true);
    expect(fits(COMPAT, "Text", "Documents")).toBe(false);
    expect(targetsOf(COMPAT, "Text")).toEqual(["Any", "Text"]);
    expect(sourcesOf(COMPAT, "Documents")).toEqual(["Any", "Documents"]);
  });

  it("accepts a fitting free input", () => {
    expect(checkConnection(sample(), COMPAT, "q.text", "join.values")).toEqual({ ok: true, type: "Text" });
  });

  it("refuses a type mismatch with expected and got", () => {
    expect(checkConnection(sample(), COMPAT, "q.text", "split.documents")).toEqual({
      ok: false, reason: "expected Documents, got Text (input 'documents' of 'split')" });
    expect(checkConnection(sample(), COMPAT, "q.text", "llm.model")).toEqual({
      ok: false, reason: "expected LanguageModel, got Text (input 'model' of 'llm')" });
  });

  it("refuses a second edge into a single input, but not into a multiple one", () => {
    const g = sample();
    g.nodes.push(node("q2", "input.text"));
    expect(checkConnection(g, COMPAT, "q2.text", "llm.prompt")).toEqual({
      ok: false, reason: "input 'prompt' of 'llm' already has an edge; delete it first" });
    expect(checkConnection(g, COMPAT, "q2.text", "join.values").ok).toBe(true);
    expect(checkConnection(g, COMPAT, "llm.text", "join.values")).toEqual({ ok: false, reason: "'llm.text' already feeds 'join.values'" });
  });

  it("refuses self edges, unknown ports and loops, but lets a static output feed upstream", () => {
    const g = sample();
    expect(checkConnection(g, COMPAT, "llm.text", "llm.prompt")).toEqual({ ok: false, reason: "'llm' cannot feed itself" });
    expect(checkConnection(g, COMPAT, "q.nope", "join.values")).toEqual({ ok: false, reason: "'q' has no output 'nope'" });
    g.nodes.push(node("any", "demo.any"), node("p", "demo.parser"));
    g.edges.push({ from: "join.text", to: "any.value" }, { from: "any.value", to: "p.text" });
    expect(checkConnection(g, COMPAT, "any.value", "join.values")).toEqual({
      ok: false, reason: "'join' already feeds 'any': this edge would make a loop" });
    expect(checkConnection(g, COMPAT, "p.format", "join.values").ok).toBe(true);
    expect(checkConnection(g, COMPAT, "p.data", "any.value")).toEqual({ ok: false, reason: "input 'value' of 'any' already has an edge; delete it first" });
  });

  it("finds the port of a new node for add + connect, exact types first", () => {
    const llm = CATALOG.find((c) => c.type === "demo.llm")!;
    expect(matchingPort(llm, COMPAT, "out", "Text")).toBe("prompt");
    expect(matchingPort(llm, COMPAT, "out", "LanguageModel")).toBe("model");
    expect(matchingPort(llm, COMPAT, "out", "Any")).toBe("prompt");
    expect(matchingPort(llm, COMPAT, "out", "Documents")).toBeNull();
    expect(matchingPort(llm, COMPAT, "in", "Text")).toBe("text");
    const split = CATALOG.find((c) => c.type === "text.split")!;
    expect(matchingPort(split, COMPAT, "in", "Text")).toBeNull();
  });
});

// One colour per port type, used by handles, port labels and edges.
const TYPE_COLORS: Record<string, string> = {
  Text: "#2563eb",
  Number: "#0891b2",
  Bool: "#0d9488",
  JSON: "#7c3aed",
  Message: "#db2777",
  Messages: "#be185d",
  Documents: "#ea580c",
  Embeddings: "#ca8a04",
  VectorStore: "#65a30d",
  Retriever: "#16a34a",
  LanguageModel: "#9333ea",
  Memory: "#c026d3",
  Tool: "#dc2626",
  Any: "#64748b",
};

export const typeColor = (type: string | undefined): string => TYPE_COLORS[type ?? "Any"] ?? "#64748b";

export const ROLE_COLORS: Record<string, string> = { input: "#16a34a", output: "#7c3aed" };

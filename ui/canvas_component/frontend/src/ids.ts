// Unique node ids made on the client, in the same style as Python's. Pure.

/** The id stem of a type: `text.split` -> `split` (lower case, [a-z0-9_]). */
export function idStem(type: string): string {
  const part = type.split(".").pop() ?? "";
  const slug = part.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  return slug && /^[a-z]/.test(slug) ? slug : `node${slug ? "_" + slug : ""}`;
}

/** `stem`, else `stem_2`, `stem_3`, ... whichever is not taken. */
export function uniqueId(stem: string, taken: Set<string>): string {
  if (!taken.has(stem)) return stem;
  const base = stem.replace(/_\d+$/, "");
  let n = 2;
  while (taken.has(`${base}_${n}`)) n += 1;
  return `${base}_${n}`;
}

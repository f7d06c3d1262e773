// "Did you mean": the candidates nearest to a name that matched nothing, so an
// error can list them. Names sharing more words come first, then the ones
// fewer edits away.

export function closeNames(target: string, candidates: readonly string[], limit = 5): string[] {
  const targetWords = words(target);
  const scored = [...new Set(candidates)].map((name) => ({
    name,
    shared: words(name).filter((word) => targetWords.includes(word)).length,
    distance: editDistance(target.toLowerCase(), name.toLowerCase()),
  }));
  const related = scored.filter((s) => s.shared > 0 || s.distance <= Math.max(3, target.length / 3));
  return related
    .sort((a, b) => b.shared - a.shared || a.distance - b.distance || a.name.localeCompare(b.name))
    .slice(0, limit)
    .map((s) => s.name);
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z0-9.]+/)
    .filter((word) => word !== "");
}

/** Levenshtein distance, one row at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

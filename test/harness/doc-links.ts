// The relative links of the project's Markdown, and which of them lead
// nowhere: a file that does not exist, or an #anchor that no heading of the
// target makes. Anchors follow GitHub's rule for heading ids, since GitHub is
// where these pages are read.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";

/** A link as written in a Markdown file: its target and the line it is on. */
export interface DocLink {
  target: string;
  line: number;
}

export interface BrokenLink extends DocLink {
  /** The file the link is in, relative to the project's root. */
  file: string;
  reason: string;
}

/**
 * The id GitHub gives a heading: the rendered text in lower case, every
 * character but letters, digits, marks, '_', '-' and spaces dropped, each
 * space a '-'. (The rule of github-slugger, which GitHub's pages follow.)
 */
export function githubSlug(heading: string): string {
  return renderedText(heading)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** What a heading shows once rendered: code spans without backticks, links as their text. */
function renderedText(heading: string): string {
  return heading
    .trim()
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`([^`]*)`/g, "$1");
}

/** The lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let fence: string | null = null;
  markdown.split("\n").forEach((text, index) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      return;
    }
    if (fence === null) lines.push({ text, line: index + 1 });
  });
  return lines;
}

/**
 * Every anchor the file's headings make, as GitHub numbers repeats: the
 * second "Notes" is #notes-1.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)?.[1];
    if (heading === undefined) continue;
    const slug = githubSlug(heading);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Links to this repository's own files: inline links and images, and reference definitions; never inside code. */
export function relativeLinks(markdown: string): DocLink[] {
  const links: DocLink[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, "");
    const inline = [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
    const reference = /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/.exec(prose)?.[1];
    for (const target of reference ? [...inline, reference] : inline) {
      if (!/^[a-z][a-z0-9+.-]*:|^\/\//i.test(target)) links.push({ target, line });
    }
  }
  return links;
}

/** How the check reads the project: a file's text, or whether a path exists. */
export interface DocTree {
  exists(path: string): boolean;
  /** A Markdown file's text; only called for paths that exist. */
  read(path: string): string;
}

/**
 * The links of `files` (paths from the project's root, '/'-separated) that
 * lead nowhere. A link starting with '/' is from the project's root, as
 * GitHub reads it.
 */
export function brokenLinks(files: readonly string[], tree: DocTree): BrokenLink[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string) => {
    let found = anchorsOf.get(path);
    if (!found) anchorsOf.set(path, (found = headingAnchors(tree.read(path))));
    return found;
  };
  const broken: BrokenLink[] = [];
  for (const file of files) {
    for (const link of relativeLinks(tree.read(file))) {
      const [pathPart = "", anchor] = link.target.split("#", 2) as [string, string | undefined];
      const path = decodeURIComponent(pathPart);
      const target =
        path === ""
          ? file
          : posix
              .normalize(path.startsWith("/") ? path.slice(1) : posix.join(posix.dirname(file), path))
              .replace(/\/$/, "");
      const fail = (reason: string) => broken.push({ ...link, file, reason });
      if (target.startsWith("../")) fail("leads out of the project");
      else if (!tree.exists(target)) fail(`${target} does not exist`);
      else if (anchor !== undefined && target.endsWith(".md") && !anchors(target).has(decodeURIComponent(anchor)))
        fail(`${target} has no heading with the anchor #${anchor}`);
    }
  }
  return broken;
}

const SKIPPED_FOLDERS = new Set(["node_modules", "dist"]);

/** Every Markdown file of the project (paths from its root), leaving out dependencies, builds and dot-folders. */
export function markdownFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || SKIPPED_FOLDERS.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith(".md")) found.push(relative(root, path).split(sep).join("/"));
    }
  };
  walk(root);
  return found.sort();
}

/** The project on disk, as the check reads it. */
export function diskTree(root: string): DocTree {
  return {
    exists: (path) => existsSync(join(root, path)),
    read: (path) => readFileSync(join(root, path), "utf8"),
  };
}

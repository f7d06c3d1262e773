// Every relative link of the README, docs/ and the folder READMEs leads to a
// file that exists and, with an #anchor, to a heading that makes it; and the
// rules the check rests on (GitHub's heading ids, which links count).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  brokenLinks,
  diskTree,
  githubSlug,
  headingAnchors,
  markdownFiles,
  relativeLinks,
  type DocTree,
} from "../harness/doc-links.js";

const ROOT = join(import.meta.dirname, "../..");

/** A project held in memory: its files' paths and texts; a folder exists when a file is in it. */
function memoryTree(files: Record<string, string>): DocTree {
  return {
    exists: (path) => path in files || Object.keys(files).some((file) => file.startsWith(`${path}/`)),
    read: (path) => files[path] ?? "",
  };
}

describe("githubSlug", () => {
  it.each([
    ["Quick start", "quick-start"],
    ["What `pulumi up` does on the host", "what-pulumi-up-does-on-the-host"],
    ["Deploy to Vultr (or to a server you have)", "deploy-to-vultr-or-to-a-server-you-have"],
    ["State, policies, CI", "state-policies-ci"],
    ["Tested here, and not", "tested-here-and-not"],
    ["The server's SSH host key", "the-servers-ssh-host-key"],
    ["From zero to `pulumi up`", "from-zero-to-pulumi-up"],
    ["Rate limits & client IPs", "rate-limits--client-ips"],
    ["snake_case and kebab-case", "snake_case-and-kebab-case"],
    ["See [the API](docs/api.md)", "see-the-api"],
    ["Größe 2.10", "größe-210"],
  ])("%s -> #%s", (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });
});

describe("headingAnchors", () => {
  it("numbers a repeated heading as GitHub does, and ignores lines inside code", () => {
    const markdown = ["# Notes", "## Notes", "```bash", "# not a heading", "```", "### Notes ##", "#nospace"].join(
      "\n",
    );
    expect([...headingAnchors(markdown)]).toEqual(["notes", "notes-1", "notes-2"]);
  });
});

describe("relativeLinks", () => {
  it("finds inline links, images and reference definitions, not URLs or links inside code", () => {
    const markdown = [
      "See [the API](docs/api.md#the-api) and ![a chart](img/chart.png 'x').",
      'A [titled](docs/x.md "Title") link, [an anchor](#quick-start), [web](https://example.com), [mail](mailto:a@b.c).',
      "Code: `[not](a.md)`",
      "```md",
      "[not either](b.md)",
      "```",
      "[ref]: ../README.md",
    ].join("\n");
    expect(relativeLinks(markdown)).toEqual([
      { target: "docs/api.md#the-api", line: 1 },
      { target: "docs/x.md", line: 2 },
      { target: "#quick-start", line: 2 },
      { target: "../README.md", line: 7 },
    ]);
  });
});

describe("brokenLinks", () => {
  it("accepts links to files, folders and headings that exist, from a file's own folder", () => {
    const tree = memoryTree({
      "README.md":
        "# Project\n## Quick start\n[api](docs/api.md#rate-limits-and-client-ips) [app](app/) [up](#quick-start)",
      "docs/api.md":
        "# The API\n## Rate limits and client IPs\n[home](../README.md#quick-start) [root](/app/src/app.ts) [self](#the-api)",
      "app/src/app.ts": "",
    });
    expect(brokenLinks(["README.md", "docs/api.md"], tree)).toEqual([]);
  });

  it("names each link to a missing file, a missing heading, or out of the project, with its file and line", () => {
    const tree = memoryTree({
      "README.md": "# Project\n\n[gone](docs/gone.md)\n[typo](docs/api.md#rate-limit)\n[self](#quickstart)",
      "docs/api.md": "# The API\n## Rate limits and client IPs\n[out](../../secrets.md)",
    });
    expect(brokenLinks(["README.md", "docs/api.md"], tree)).toEqual([
      { file: "README.md", line: 3, target: "docs/gone.md", reason: "docs/gone.md does not exist" },
      {
        file: "README.md",
        line: 4,
        target: "docs/api.md#rate-limit",
        reason: "docs/api.md has no heading with the anchor #rate-limit",
      },
      {
        file: "README.md",
        line: 5,
        target: "#quickstart",
        reason: "README.md has no heading with the anchor #quickstart",
      },
      { file: "docs/api.md", line: 3, target: "../../secrets.md", reason: "leads out of the project" },
    ]);
  });
});

describe("the project's Markdown", () => {
  const files = markdownFiles(ROOT);

  it("includes the README, every docs/ page and the folder READMEs", () => {
    expect(files).toEqual(
      expect.arrayContaining(["README.md", "docs/api.md", "docs/operations.md", "infra/README.md", "app/README.md"]),
    );
  });

  it("has no relative link that leads nowhere", () => {
    expect(brokenLinks(files, diskTree(ROOT))).toEqual([]);
  });
});

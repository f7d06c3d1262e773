// A real headless browser for tests: Debian's chromium (installed by
// scripts/setup/prepare-for.sh test) driven by playwright-core, with a fresh
// profile each time and nothing that reaches outside the machine.
import { existsSync } from "node:fs";
import { chromium, type BrowserContext } from "playwright-core";
import { scratchDir } from "../../scripts/loopback/tmp.js";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface RunningBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** One browser (start-up takes a second or two): start one per test file. */
export async function startBrowser(): Promise<RunningBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run bash scripts/setup/prepare-for.sh test as root (it installs chromium)`,
    );
  }
  const profile = scratchDir("chromium-profile");
  // A persistent context is how Playwright takes a --user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
  });
  return {
    context,
    async close() {
      await context.close();
      profile.remove();
    },
  };
}

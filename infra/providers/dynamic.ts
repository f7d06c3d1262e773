// Pulumi's side of this folder's providers. A dynamic provider's code is
// serialized into the stack's state; ours serializes only a loader that
// imports the providers bundle (dist/providers.cjs, built by `npm run build`)
// from the project folder above the program's folder, where the engine
// starts the provider process. So
// the code that talks to SSH and the Vultr API lives in the repository, not
// in state, and a change to it shows no diff on every resource.
import type * as pulumi from "@pulumi/pulumi";

export const PROVIDERS_BUNDLE = "dist/providers.cjs";

export function bundledProvider(kind: string): pulumi.dynamic.ResourceProvider {
  // Everything below runs in the provider process, not in the program.
  // A resource created (or changed) but not ready, say an instance that never
  // became active, is kept in state from the error's id and properties; the
  // SDK stores those without the serialized provider, and every later delete
  // or refresh would then fail to find it: add it.
  const keepProvider = async <T>(inputs: Record<string, unknown>, operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation();
    } catch (error) {
      const partial = error as { id?: unknown; properties?: Record<string, unknown> };
      if (partial?.id && partial.properties && !("__provider" in partial.properties)) {
        partial.properties.__provider = inputs.__provider;
      }
      throw error;
    }
  };
  const load = async () => {
    const { pathToFileURL } = await import("node:url");
    const { dirname, join } = await import("node:path");
    const { existsSync } = await import("node:fs");
    // The engine starts the provider in the program's folder (infra/): the
    // bundle is in the project folder above it.
    let dir = process.cwd();
    while (!existsSync(join(dir, PROVIDERS_BUNDLE)) && dirname(dir) !== dir) dir = dirname(dir);
    const file = join(dir, PROVIDERS_BUNDLE);
    if (!existsSync(file)) throw new Error(`${PROVIDERS_BUNDLE} is missing above ${process.cwd()}: run npm run build`);
    // A CommonJS module imported: its exports, or (as tsx rewrites the
    // import) already unwrapped.
    const imported = await import(pathToFileURL(file).href);
    const provider = (imported.providers ?? imported.default?.providers)?.[kind];
    if (!provider) throw new Error(`${file} has no provider "${kind}": run npm run build`);
    return provider;
  };
  return {
    check: async (olds, news) => {
      const provider = await load();
      return provider.check ? provider.check(olds, news) : { inputs: news };
    },
    diff: async (id, olds, news) => (await load()).diff(id, olds, news),
    create: async (inputs) => keepProvider(inputs, async () => (await load()).create(inputs)),
    read: async (id, props) => {
      const provider = await load();
      return provider.read ? provider.read(id, props) : { id, props };
    },
    update: async (id, olds, news) => keepProvider(news, async () => (await load()).update(id, olds, news)),
    delete: async (id, props) => (await load()).delete(id, props),
  };
}

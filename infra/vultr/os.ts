// The operating system id for a name such as "Ubuntu 24.04 LTS x64". Ids are
// Vultr's and differ between images, so the stack names the OS and the id is
// looked up when an instance is created (never in a diff, so a preview makes
// no API call for it).
import type { ApiOs } from "./api-types.js";
import { closeNames } from "./close-names.js";
import type { ProviderSettings } from "./provider.js";

export async function findOsId(settings: ProviderSettings, osName: string): Promise<number> {
  const catalogue = await settings.client().listAll<ApiOs>("/v2/os", "os", { perPage: settings.perPage });
  const exact = catalogue.find((os) => os.name === osName);
  if (exact) return exact.id;
  const close = closeNames(
    osName,
    catalogue.map((os) => os.name),
  );
  const suggestion =
    close.length > 0
      ? ` Close names: ${close.map((name) => `"${name}"`).join(", ")}. For example: pulumi config set osName "${close[0]}"`
      : " None is close; GET /v2/os lists them all.";
  throw new Error(`No Vultr operating system is named "${osName}" (the name must match exactly).${suggestion}`);
}

// Container images the stack runs: by digest unless the stack allows tags.
import { StackConfigError } from "./errors.js";
import type { ConfigKey } from "./stack-config.js";

const IMAGE = /^[a-z0-9]+([._/:@-][a-z0-9]+)*$/;
const DIGEST = /@sha256:[a-f0-9]{64}$/;

/**
 * An image by digest: what runs is exactly what was tested, and a new digest
 * is a change the host pulls. A tag can point at other bytes tomorrow, and
 * the host, which has an image by that name, would never pull it again.
 * allowImageTags lets tags through, for images built on the host or in tests.
 * Required: `suggested` only names the image to look a digest up for.
 */
export function pinnedImage(key: ConfigKey, image: string | undefined, suggested: string, allowTags: boolean): string {
  const pin = (name: string) =>
    `Pin the image you tested by its digest: docker buildx imagetools inspect ${name} (the "Digest:" line), then pulumi config set ${key} ${name}@sha256:<digest>. For images built on the host or for tests only: pulumi config set allowImageTags true`;
  if (image === undefined) throw new StackConfigError(key, "is not set", pin(suggested));
  if (!IMAGE.test(image)) throw new StackConfigError(key, `"${image}" is not a container image name`, pin(suggested));
  if (allowTags || DIGEST.test(image)) return image;
  throw new StackConfigError(
    key,
    `"${image}" names a tag, not a digest: the image behind a tag changes, and a host that has one never pulls it again`,
    pin(image.replace(/@.*$/, "")),
  );
}

// What goes into a minimal image built from binaries already on this
// machine: the binary, the shared libraries `ldd` names, and busybox for a
// shell and `wget` (healthchecks). Pure: the caller runs ldd and tar.

/** Library paths from `ldd` output (the vDSO has no file and is skipped). */
export function parseLdd(output: string): string[] {
  const paths = new Set<string>();
  for (const line of output.split("\n")) {
    const arrow = line.match(/=>\s+(\/\S+)/);
    const direct = line.match(/^\s*(\/\S+)\s+\(/);
    const path = arrow?.[1] ?? direct?.[1];
    if (path) paths.add(path);
  }
  return [...paths];
}

export interface RootfsEntry {
  /** Path on this machine. */
  source: string;
  /** Path inside the image. */
  target: string;
}

export function rootfsEntries(
  binary: { source: string; target: string },
  libraries: string[],
  busybox: string,
): RootfsEntry[] {
  return [
    binary,
    { source: busybox, target: "/bin/busybox" },
    ...libraries.map((lib) => ({ source: lib, target: lib })),
  ];
}

/** Busybox applets the images need, linked to /bin/busybox. */
export const BUSYBOX_APPLETS = ["sh", "wget", "cat", "ls"];

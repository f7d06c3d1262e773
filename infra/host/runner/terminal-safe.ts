// Text from a host (a step's output, logs, an error) or from a backup
// bucket (a manifest's `source`), made safe to print on an operator's
// terminal: a control character there can do more than show text (move the
// cursor over what was printed, retitle the window, write the clipboard with
// OSC 52, fake a link with OSC 8). Every control character but newline and
// tab becomes visible text instead, so nothing is hidden and nothing acts.

/** C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F, CSI and OSC among them). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/**
 * Carriage returns are dropped (a CRLF ends a line all the same; a lone one
 * would let later text overwrite earlier text); every other control
 * character is written as a `\u00XX` escape, so ESC [ 2 J prints as
 * "\u001b[2J". A JSON text stays valid JSON with the same meaning.
 */
export function terminalSafe(text: string): string {
  return text.replaceAll("\r", "").replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

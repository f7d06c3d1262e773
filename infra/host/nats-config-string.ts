// A value written into a nats-server config file. Unquoted, nats-server's
// parser guesses a type: `2026-01-01` became a date, `1e5` and `31-...` a
// number, `$X` a variable, and NATS did not start (the natsToken issue,
// test/unit/nats-users.test.ts). Inside double quotes it is a string,
// whatever its shape; the only characters that would still change its
// meaning there (a quote, a backslash, a line break) are refused, since no
// value the toolkit writes has a reason to hold one.
import { TemplateError } from "./render.js";

export function natsConfigString(template: string, name: string, value: string): string {
  if (/["\\\r\n]/.test(value))
    throw new TemplateError(
      template,
      `the ${name} holds a quote, a backslash or a line break nats-server would misread`,
    );
  return `"${value}"`;
}

// The one strict renderer for templates that have no variables of their own
// (sshd, fail2ban, env files): {{NAME}} placeholders, every one must have a
// value, and no value may carry a newline into the file.
export class TemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`${template}: ${problem}`);
    this.name = "TemplateError";
  }
}

export function renderTemplate(template: string, text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new TemplateError(template, `no value for {{${key}}}`);
    if (/[\r\n]/.test(value)) throw new TemplateError(template, `the value for {{${key}}} contains a line break`);
    return value;
  });
}

/** Characters an env file holds literally, unquoted, in both Compose and systemd. */
export const ENV_SAFE = /^[A-Za-z0-9+/=._:,@%-]*$/;

/** Like renderTemplate, for KEY=value files: refuses values that would need quoting. */
export function renderEnvFile(template: string, text: string, values: Readonly<Record<string, string>>): string {
  for (const [key, value] of Object.entries(values)) {
    if (!ENV_SAFE.test(value)) {
      throw new TemplateError(
        template,
        `the value for {{${key}}} has characters an env file cannot hold unquoted (spaces, quotes, $, #)`,
      );
    }
  }
  return renderTemplate(template, text, values);
}

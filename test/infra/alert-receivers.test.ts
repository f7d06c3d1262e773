// The alert receivers' stack settings: what each combination gives, and every
// mistake refused with the key, the problem and the fix.
import { describe, expect, it } from "vitest";
import { alertReceiverWarnings, parseAlertReceivers } from "../../infra/config/alert-receivers.js";
import { StackConfigError } from "../../infra/config/errors.js";

const SECRETS = ["alertSmtpPassword", "alertWebhookUrl", "alertHeartbeatUrl"];

const raw = (values: Record<string, string>, secretKeys = SECRETS) => ({
  values,
  secretKeys: new Set(secretKeys),
  stack: "prod",
});

function errorOf(values: Record<string, string>, secretKeys?: string[]): StackConfigError {
  try {
    parseAlertReceivers(raw(values, secretKeys));
  } catch (error) {
    if (error instanceof StackConfigError) return error;
    throw error;
  }
  throw new Error("expected a StackConfigError");
}

const EMAIL = {
  alertEmailTo: "ops@example.com, oncall@example.org",
  alertEmailFrom: "alerts@example.com",
  alertSmtpHost: "smtp.example.com:587",
  alertSmtpUser: "alerts",
  alertSmtpPassword: "hunter2-long",
};

describe("alert receivers", () => {
  it("reads none: every receiver unset, as Pulumi.yaml's defaults hand them", () => {
    expect(
      parseAlertReceivers(
        raw({ alertEmailTo: "", alertWebhookUrl: "", alertWebhookFormat: "auto", alertSmtpRequireTls: "true" }),
      ),
    ).toEqual({ email: undefined, webhook: undefined, heartbeatUrl: undefined });
  });

  it("reads e-mail over SMTP, TLS required unless said otherwise", () => {
    expect(parseAlertReceivers(raw(EMAIL)).email).toEqual({
      to: ["ops@example.com", "oncall@example.org"],
      from: "alerts@example.com",
      smarthost: "smtp.example.com:587",
      username: "alerts",
      password: "hunter2-long",
      requireTls: true,
    });
    const local = { alertEmailTo: "ops@example.com", alertEmailFrom: "a@example.com", alertSmtpHost: "127.0.0.1:25" };
    expect(parseAlertReceivers(raw({ ...local, alertSmtpRequireTls: "false" })).email).toMatchObject({
      smarthost: "127.0.0.1:25",
      username: undefined,
      password: undefined,
      requireTls: false,
    });
    expect(parseAlertReceivers(raw({ ...local, alertSmtpHost: "[::1]:2525" })).email?.smarthost).toBe("[::1]:2525");
  });

  it("refuses an e-mail receiver with a part missing, naming the missing key", () => {
    expect(errorOf({ ...EMAIL, alertEmailFrom: "" }).message).toBe(
      'Config "alertEmailFrom": is not set, but alertEmailTo is. Set the sender your SMTP server accepts: pulumi config set alertEmailFrom alerts@example.com',
    );
    expect(errorOf({ ...EMAIL, alertSmtpHost: "" }).key).toBe("alertSmtpHost");
    expect(errorOf({ ...EMAIL, alertEmailTo: "" }).message).toMatch(
      /^Config "alertEmailFrom": is set, but alertEmailTo \(who gets the alerts\) is not/,
    );
    expect(errorOf({ ...EMAIL, alertSmtpPassword: "" }).message).toMatch(
      /^Config "alertSmtpPassword": is not set, but alertSmtpUser is/,
    );
    expect(errorOf({ ...EMAIL, alertSmtpUser: "" }).message).toMatch(
      /^Config "alertSmtpUser": is not set, but alertSmtpPassword is/,
    );
  });

  it("refuses bad addresses and a smarthost without its port", () => {
    expect(errorOf({ ...EMAIL, alertEmailTo: "ops@example.com, oncall" }).message).toMatch(
      /^Config "alertEmailTo": "oncall" is not an e-mail address/,
    );
    expect(errorOf({ ...EMAIL, alertEmailFrom: "Alerts <a@example.com>" }).key).toBe("alertEmailFrom");
    for (const host of ["smtp.example.com", "smtp.example.com:0", "smtp.example.com:70000", "smtp example.com:25"])
      expect(errorOf({ ...EMAIL, alertSmtpHost: host }).message).toContain(`"${host}" is not host:port`);
  });

  it("keeps the SMTP password encrypted and off the network in clear", () => {
    expect(errorOf(EMAIL, []).message).toMatch(/^Config "alertSmtpPassword": is stored in plaintext in the stack file/);
    expect(errorOf({ ...EMAIL, alertSmtpRequireTls: "false" }).message).toMatch(
      /^Config "alertSmtpRequireTls": is false, so the SMTP password could cross the network to smtp\.example\.com in clear/,
    );
    // 465 is TLS from the first byte; a relay on this host crosses no network.
    expect(
      parseAlertReceivers(raw({ ...EMAIL, alertSmtpHost: "smtp.example.com:465", alertSmtpRequireTls: "false" })).email
        ?.requireTls,
    ).toBe(false);
    expect(
      parseAlertReceivers(raw({ ...EMAIL, alertSmtpHost: "localhost:25", alertSmtpRequireTls: "false" })).email
        ?.requireTls,
    ).toBe(false);
    expect(errorOf({ ...EMAIL, alertSmtpRequireTls: "yes" }).message).toMatch(/"yes", not a boolean/);
  });

  it("tells the webhook's format from well-known URLs, or takes the one given", () => {
    const webhook = (url: string, format = "auto") =>
      parseAlertReceivers(raw({ alertWebhookUrl: url, alertWebhookFormat: format })).webhook;
    expect(webhook("https://hooks.slack.com/services/T0/B0/xyz")).toEqual({
      url: "https://hooks.slack.com/services/T0/B0/xyz",
      format: "slack",
    });
    expect(webhook("https://discord.com/api/webhooks/123/abc")?.format).toBe("discord");
    expect(webhook("https://ntfy.sh/my-alerts")?.format).toBe("alertmanager");
    expect(webhook("https://chat.example.com/hooks/abc123", "slack")?.format).toBe("slack");
    expect(webhook("http://127.0.0.1:9000/alerts")?.format).toBe("alertmanager");
    expect(errorOf({ alertWebhookUrl: "https://x.example.com/", alertWebhookFormat: "teams" }).message).toMatch(
      /^Config "alertWebhookFormat": is "teams". Use one of: auto, alertmanager, slack, discord/,
    );
    expect(errorOf({ alertWebhookFormat: "slack" }).message).toMatch(/is "slack", but alertWebhookUrl is not set/);
  });

  it("refuses a URL that would leak its token: plaintext in the stack, or http:// to another host", () => {
    for (const key of ["alertWebhookUrl", "alertHeartbeatUrl"]) {
      expect(errorOf({ [key]: "https://hc-ping.com/abc" }, []).message).toMatch(
        new RegExp(`^Config "${key}": is stored in plaintext in the stack file. Remove it and set it with --secret`),
      );
      const clear = errorOf({ [key]: "http://hooks.example.com/T0/Tok3nXyz" });
      expect(clear.message).toMatch(
        new RegExp(`^Config "${key}": is a plain http:// URL to hooks\\.example\\.com, which would send its token`),
      );
      // The value is a secret: a refusal never repeats it.
      expect(clear.message).not.toContain("Tok3nXyz");
      expect(errorOf({ [key]: "hooks.example.com/T0" }).message).toMatch(/is not a URL/);
      expect(errorOf({ [key]: "ftp://hooks.example.com/" }).message).toMatch(/is a ftp: URL, not https/);
    }
    expect(parseAlertReceivers(raw({ alertHeartbeatUrl: "http://[::1]:8080/ping" })).heartbeatUrl).toBe(
      "http://[::1]:8080/ping",
    );
  });

  it("warns when alerts would reach nobody, and when nothing outside would notice the host gone", () => {
    expect(alertReceiverWarnings({})).toEqual([
      expect.stringMatching(/^No alert receiver is set \(alertEmailTo, alertWebhookUrl\)/),
      expect.stringMatching(/^alertHeartbeatUrl is not set/),
    ]);
    expect(
      alertReceiverWarnings({ webhook: { url: "https://x.example.com", format: "alertmanager" }, heartbeatUrl: "x" }),
    ).toEqual([]);
  });
});

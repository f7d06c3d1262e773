// alertmanager.yml as data: routes, receivers, resolve notices, and where
// each secret ends up.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { AlertReceivers } from "../../infra/config/alert-receivers.js";
import { renderAlertmanagerConfig } from "../../infra/monitoring/alertmanager-config.js";

const ALL: AlertReceivers = {
  email: {
    to: ["ops@example.com", "oncall@example.org"],
    from: "alerts@example.com",
    smarthost: "smtp.example.com:587",
    username: "alerts",
    password: "smtp-Pa55word",
    requireTls: true,
  },
  webhook: { url: "https://ntfy.example.com/alerts-Tok3n", format: "alertmanager" },
  heartbeatUrl: "https://hc-ping.example.com/5f0c-Tok3n",
};

interface Config {
  route: {
    receiver: string;
    group_by: string[];
    group_wait: string;
    group_interval: string;
    repeat_interval: string;
    routes: { matchers: string[]; receiver: string; group_interval: string; repeat_interval: string }[];
  };
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
  receivers: ({ name: string } & Record<string, Record<string, unknown>[]>)[];
}
const render = (receivers: AlertReceivers, options?: Parameters<typeof renderAlertmanagerConfig>[1]) => {
  const files = renderAlertmanagerConfig(receivers, options);
  return { files, config: parse(files.config.content) as Config };
};
const receiver = (config: Config, name: string) => config.receivers.find((r) => r.name === name);

describe("alertmanager.yml", () => {
  it("groups by alert and level, with production's waits, and sends every team notice with its resolve", () => {
    const { config } = render(ALL);
    expect(config.route).toMatchObject({
      receiver: "team",
      group_by: ["alertname", "severity"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
    });
    const team = receiver(config, "team")!;
    expect(team.email_configs).toEqual([
      {
        to: "ops@example.com, oncall@example.org",
        from: "alerts@example.com",
        smarthost: "smtp.example.com:587",
        auth_username: "alerts",
        auth_password_file: "/etc/prometheus/alertmanager-secrets/smtp-password",
        require_tls: true,
        send_resolved: true,
      },
    ]);
    expect(team.webhook_configs).toEqual([{ url: "https://ntfy.example.com/alerts-Tok3n", send_resolved: true }]);
  });

  it("routes the heartbeat only to the heartbeat URL, every few minutes, and never pings on its resolve", () => {
    const { config } = render(ALL);
    expect(config.route.routes).toEqual([
      expect.objectContaining({
        matchers: ['severity="heartbeat"'],
        receiver: "heartbeat",
        // Flushed every 30 s, so the 5-minute repeat goes out within 30 s of being due.
        group_interval: "30s",
        repeat_interval: "5m",
      }),
    ]);
    expect(receiver(config, "heartbeat")).toEqual({
      name: "heartbeat",
      webhook_configs: [{ url: "https://hc-ping.example.com/5f0c-Tok3n", send_resolved: false }],
    });
    // Without a heartbeat URL the Watchdog goes nowhere, not to the team.
    const { config: without } = render({ ...ALL, heartbeatUrl: undefined });
    expect(without.route.routes[0]!.receiver).toBe("nobody");
    expect(receiver(without, "heartbeat")).toBeUndefined();
  });

  it("holds a warning back while the same alert is critical on the same instance", () => {
    expect(render(ALL).config.inhibit_rules).toEqual([
      {
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ["alertname", "instance"],
      },
    ]);
  });

  it("sends to nobody, but still routes and inhibits, when the stack has no receiver", () => {
    const { config, files } = render({});
    expect(config.route.receiver).toBe("nobody");
    expect(config.receivers).toEqual([{ name: "nobody" }]);
    expect(files.secrets).toEqual([]);
  });

  it("puts the SMTP password and a Slack URL in files of mode 0600, never in the config", () => {
    const slack: AlertReceivers = {
      ...ALL,
      webhook: { url: "https://hooks.slack.com/services/T0/B0/Tok3n", format: "slack" },
    };
    const { files, config } = render(slack, { secretsDir: "/run/secrets-test" });
    expect(files.secrets).toEqual([
      { path: "/run/secrets-test/smtp-password", content: "smtp-Pa55word", mode: 0o600 },
      {
        path: "/run/secrets-test/slack-webhook-url",
        content: "https://hooks.slack.com/services/T0/B0/Tok3n",
        mode: 0o600,
      },
    ]);
    expect(files.config.content).not.toContain("smtp-Pa55word");
    expect(files.config.content).not.toContain("hooks.slack.com");
    expect(receiver(config, "team")!.slack_configs).toEqual([
      expect.objectContaining({ api_url_file: "/run/secrets-test/slack-webhook-url", send_resolved: true }),
    ]);
    // Alertmanager 0.25 reads a webhook's URL only from the config: the config is 0600 too.
    expect(files.config).toMatchObject({ path: "/etc/prometheus/alertmanager.yml", mode: 0o600 });
  });

  it("speaks Discord's format natively, the summary and runbook in each line", () => {
    const { config } = render({ webhook: { url: "https://discord.com/api/webhooks/1/Tok3n", format: "discord" } });
    const discord = receiver(config, "team")!.discord_configs![0]!;
    expect(discord).toMatchObject({ webhook_url: "https://discord.com/api/webhooks/1/Tok3n", send_resolved: true });
    expect(discord.message).toContain("{{ .Annotations.runbook }}");
  });

  it("takes shorter timings for tests, and refuses one that is not a duration", () => {
    const timings = { groupWait: "1s", groupInterval: "2s", repeatInterval: "1h", heartbeatInterval: "3s" };
    const { config } = render(ALL, { timings });
    expect(config.route).toMatchObject({ group_wait: "1s", group_interval: "2s", repeat_interval: "1h" });
    expect(config.route.routes[0]).toMatchObject({ group_interval: "1s", repeat_interval: "3s" });
    expect(() => render(ALL, { timings: { ...timings, groupWait: "soon" } })).toThrow(
      'alert timing groupWait: "soon" is not a duration',
    );
  });

  it("opens with the managed-by line", () => {
    expect(render(ALL).files.config.content.split("\n")[0]).toMatch(/^# Managed by .*: do not edit on the host\.$/);
  });
});

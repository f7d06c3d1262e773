// The stack setting alertThresholds (infra/config/alert-thresholds.ts): the
// defaults, a partial object, and a clear error for each kind of mistake.
import { describe, expect, it } from "vitest";
import { DEFAULT_ALERT_THRESHOLDS, parseAlertThresholds } from "../../infra/config/alert-thresholds.js";
import { StackConfigError } from "../../infra/config/errors.js";

const parse = (value?: string) =>
  parseAlertThresholds({
    values: value === undefined ? {} : { alertThresholds: value },
    secretKeys: new Set(),
    stack: "test",
  });
const errorOf = (value: string): StackConfigError => {
  try {
    parse(value);
  } catch (error) {
    if (error instanceof StackConfigError) return error;
    throw error;
  }
  throw new Error(`${value} was accepted`);
};

describe("alertThresholds", () => {
  it("defaults to the issue's numbers when unset or empty", () => {
    expect(parse()).toEqual(DEFAULT_ALERT_THRESHOLDS);
    expect(parse("{}")).toEqual(DEFAULT_ALERT_THRESHOLDS);
    expect(DEFAULT_ALERT_THRESHOLDS).toMatchObject({
      diskWarningPercent: 80,
      diskCriticalPercent: 90,
      storeWarningPercent: 80,
      storeCriticalPercent: 90,
      certificateDays: 14,
      backupAgeFactor: 2,
    });
  });

  it("takes the keys given and the defaults for the rest; a number stored as a string too", () => {
    expect(parse('{"diskWarningPercent":85,"ttftP99Seconds":"2.5"}')).toEqual({
      ...DEFAULT_ALERT_THRESHOLDS,
      diskWarningPercent: 85,
      ttftP99Seconds: 2.5,
    });
  });

  it("refuses an unknown key, naming the keys it knows", () => {
    expect(errorOf('{"diskWarnPercent":85}').message).toMatch(
      /^Config "alertThresholds\.diskWarnPercent": is not a threshold this stack knows\. Remove it \(pulumi config rm --path 'alertThresholds\.diskWarnPercent'\); the thresholds are diskWarningPercent, diskCriticalPercent, /,
    );
  });

  it("refuses a value out of its range, with the range and an example", () => {
    expect(errorOf('{"diskCriticalPercent":120}').message).toBe(
      `Config "alertThresholds.diskCriticalPercent": is 120, outside 1 to 99. Use a number from 1 to 99 (a percentage), e.g.: pulumi config set --path 'alertThresholds.diskCriticalPercent' 90`,
    );
    expect(errorOf('{"backupAgeFactor":1}').message).toMatch(
      /is 1, outside 1\.5 to 30\. .*\(periods of backupSchedule\)/,
    );
  });

  it("refuses the wrong type: words, booleans, fractions where a count is meant, a list", () => {
    expect(errorOf('{"certificateDays":"two weeks"}').message).toMatch(
      /^Config "alertThresholds\.certificateDays": is "two weeks", not a number\. Use a whole number from 1 to 60 \(days\)/,
    );
    expect(errorOf('{"http5xxPercent":true}').message).toMatch(
      /"alertThresholds\.http5xxPercent": is true, not a number/,
    );
    expect(errorOf('{"fail2banSurge":2.5}').message).toMatch(
      /"alertThresholds\.fail2banSurge": is 2\.5, not a whole number/,
    );
    expect(errorOf("[80, 90]").message).toMatch(
      /^Config "alertThresholds": is not an object\. Set one threshold at a time: pulumi config set --path/,
    );
    expect(errorOf("80").message).toMatch(/is not an object/);
  });

  it("refuses a warning that is not below its critical", () => {
    expect(errorOf('{"diskWarningPercent":95}').message).toBe(
      `Config "alertThresholds.diskWarningPercent": is 95, not below diskCriticalPercent (90): the warning would come with or after the page. Lower it, or raise diskCriticalPercent: pulumi config set --path 'alertThresholds.diskWarningPercent' 80`,
    );
    expect(errorOf('{"storeWarningPercent":92,"storeCriticalPercent":92}').message).toMatch(
      /storeWarningPercent": is 92, not below storeCriticalPercent \(92\)/,
    );
    expect(parse('{"storeWarningPercent":92,"storeCriticalPercent":97}').storeCriticalPercent).toBe(97);
  });
});

// The policy pack's entry: `pulumi preview --policy-pack infra/policies`.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules.js";

new PolicyPack("conversational-platform", { policies });

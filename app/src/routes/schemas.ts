// Request shapes. Unknown fields are refused rather than dropped, so a typo
// in a client shows up as an error instead of silently doing nothing.
export const UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

export const conversationParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", pattern: UUID_PATTERN } },
} as const;

export const replyParams = {
  type: "object",
  required: ["id", "messageId"],
  properties: {
    id: { type: "string", pattern: UUID_PATTERN },
    messageId: { type: "string", pattern: UUID_PATTERN },
  },
} as const;

export const createConversationBody = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: { title: { type: "string", minLength: 1, maxLength: 200 } },
} as const;

export function sendMessageBody(maxChars: number) {
  return {
    type: "object",
    additionalProperties: false,
    required: ["content"],
    properties: {
      content: { type: "string", minLength: 1, maxLength: maxChars },
      model: { type: "string", minLength: 1, maxLength: 200 },
    },
  } as const;
}

export const listQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    // A string: query values are not coerced (ajv's coerceTypes is off).
    limit: { type: "string", pattern: "^[1-9][0-9]{0,2}$" },
    cursor: { type: "string", minLength: 1, maxLength: 200 },
  },
} as const;

/**
 * A conversation's page. Other parameters are ignored, as they were before
 * conversations were paged (clients add cache-busters).
 */
export const conversationQuery = {
  type: "object",
  properties: {
    limit: { type: "string", pattern: "^[1-9][0-9]{0,2}$" },
    cursor: { type: "string", minLength: 1, maxLength: 200 },
  },
} as const;

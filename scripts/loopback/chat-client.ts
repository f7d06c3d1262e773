// The API as a client application sees it.
import { openSse, requestJson, type ClientOptions, type SseStream } from "./http-client.js";

export class ChatClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    readonly options: ClientOptions = {},
  ) {}

  private opts(extra: ClientOptions = {}): ClientOptions {
    return {
      ...this.options,
      ...extra,
      headers: { authorization: `Bearer ${this.token}`, ...this.options.headers, ...extra.headers },
    };
  }

  request<T = any>(method: string, path: string, body?: unknown, extra?: ClientOptions) {
    return requestJson<T>(method, this.baseUrl + path, body, this.opts(extra));
  }

  async createConversation(title?: string): Promise<string> {
    const res = await this.request("POST", "/v1/conversations", title ? { title } : undefined);
    if (res.status !== 201) throw new Error(`create conversation: ${res.status} ${res.text}`);
    return res.body.id as string;
  }

  send(conversationId: string, content: string, extra: ClientOptions & { model?: string } = {}): Promise<SseStream> {
    const body = extra.model ? { content, model: extra.model } : { content };
    return openSse("POST", `${this.baseUrl}/v1/conversations/${conversationId}/messages`, body, this.opts(extra));
  }

  resume(
    conversationId: string,
    messageId: string,
    lastEventId?: string,
    extra: ClientOptions = {},
  ): Promise<SseStream> {
    const headers: Record<string, string> = lastEventId !== undefined ? { "last-event-id": lastEventId } : {};
    return openSse(
      "GET",
      `${this.baseUrl}/v1/conversations/${conversationId}/messages/${messageId}/stream`,
      undefined,
      this.opts({ ...extra, headers }),
    );
  }

  async conversation(conversationId: string) {
    const res = await this.request("GET", `/v1/conversations/${conversationId}`);
    if (res.status !== 200) throw new Error(`get conversation: ${res.status} ${res.text}`);
    return res.body as {
      id: string;
      messages: Array<{
        id: string;
        role: string;
        content: string;
        status?: string;
        usage?: { inputTokens: number; outputTokens: number };
        stopReason?: string;
        error?: { code: string };
      }>;
    };
  }
}

/** Text of all delta events, in order. */
export function textOf(stream: SseStream): string {
  return stream.events
    .filter((e) => e.event === "delta")
    .map((e) => e.data.text as string)
    .join("");
}

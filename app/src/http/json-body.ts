// JSON request bodies. Many clients send `Content-Type: application/json` on
// every request, a DELETE without a body included, and Fastify's own parser
// refuses such an empty body with 400. Here an empty body counts as no body
// at all, the same as a request without the header; each route's schema then
// says whether it needs one.
import type { FastifyInstance } from "fastify";

export function registerJsonBody(app: FastifyInstance): void {
  // Fastify's own parser, with its refusal of __proto__ and constructor keys.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body: string, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body, done);
  });
}

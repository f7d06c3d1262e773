// The headers of a fuzz request besides Authorization: content types and
// encodings, Accept, Host, X-Forwarded-For, Last-Event-ID, padding, extras.
import fc from "fast-check";
import { headerText, sometimes } from "./basics.js";
import type { Headers } from "./request-types.js";
import { lastEventIdHeader } from "./targets.js";

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant("application/json") },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json; charset=latin1",
      "application/json;charset=",
      "application/jsonx",
      "application/problem+json",
      "application/vnd.api+json",
      "text/plain",
      "text/event-stream",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/octet-stream",
      "*/*",
      "",
      ";",
      "application/json, text/plain",
    ),
  },
  { weight: 1, arbitrary: headerText(80) },
);

const encodingName = fc.oneof(
  fc.constantFrom("gzip", "br", "zstd", "deflate", "identity", "compress", "x-gzip", "*", "", "gzip, br", "chunked"),
  headerText(30),
);

const acceptEncoding = fc.oneof(
  fc.constantFrom(
    "gzip",
    "br",
    "zstd",
    "deflate",
    "identity",
    "*",
    "gzip, deflate, br, zstd",
    "zstd;q=0, gzip",
    "identity;q=0",
  ),
  headerText(40),
);

const accept = fc.oneof(
  fc.constantFrom(
    "application/json",
    "text/event-stream",
    "*/*",
    "text/html",
    "application/xml",
    "",
    "text/event-stream;q=0",
  ),
  headerText(40),
);

const host = fc.constantFrom(
  "LOCALHOST",
  "localhost.",
  "evil.example",
  "127.0.0.1",
  "[::1]",
  "localhost:1",
  "",
  "localhost@evil.example",
  "x".repeat(300),
);

const xForwardedFor = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.array(fc.ipV4(), { minLength: 2, maxLength: 50 }).map((ips) => ips.join(", ")),
  fc.constantFrom("unknown", "127.0.0.1", "::1", "0.0.0.0", "999.1.1.1", ",,,", "1.2.3.4:5678", "[::1]:80"),
  headerText(60),
);

const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,30}$/)
  .filter(
    (n) =>
      !["host", "content-length", "transfer-encoding", "connection", "authorization", "expect", "upgrade"].includes(n),
  );

export const headers: fc.Arbitrary<Headers> = fc.record(
  {
    contentType: sometimes(contentType, 3),
    contentEncoding: sometimes(encodingName, 12),
    accept: sometimes(accept, 4),
    acceptEncoding: sometimes(acceptEncoding, 3),
    host: sometimes(host, 30),
    xForwardedFor: sometimes(xForwardedFor, 6),
    lastEventId: sometimes(lastEventIdHeader, 5),
    padding: sometimes(fc.integer({ min: 1000, max: 70_000 }), 30),
    extra: fc.array(fc.tuple(headerName, headerText(100)), { maxLength: 3 }),
    chunked: fc.boolean(),
    hangUp: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
  },
  { requiredKeys: ["extra", "chunked", "hangUp"] },
);

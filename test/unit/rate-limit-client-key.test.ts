import { describe, expect, it } from "vitest";
import { clientKey } from "../../app/src/http/client-key.js";

describe("clientKey", () => {
  it("keeps an IPv4 address whole", () => {
    expect(clientKey("198.51.100.7")).toBe("198.51.100.7");
    expect(clientKey("198.51.100.8")).toBe("198.51.100.8");
  });

  it("reads an IPv4-mapped IPv6 address as the IPv4 address, not as one shared /64", () => {
    expect(clientKey("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(clientKey("::ffff:c633:6408")).toBe("198.51.100.8");
  });

  it("gives every address of an IPv6 /64 one key", () => {
    const keys = new Set(
      ["2001:db8:a:b::1", "2001:db8:a:b:ffff:ffff:ffff:ffff", "2001:0db8:000a:000b:1234:5678:9abc:def0"].map(clientKey),
    );
    expect([...keys]).toEqual(["2001:db8:a:b::/64"]);
  });

  it("gives different /64s different keys", () => {
    expect(clientKey("2001:db8:a:c::1")).toBe("2001:db8:a:c::/64");
    expect(clientKey("2001:db8:a:b::1")).not.toBe(clientKey("2001:db8:a:c::1"));
    expect(clientKey("2001:db9:a:b::1")).not.toBe(clientKey("2001:db8:a:b::1"));
  });

  it("drops a zone index and handles loopback", () => {
    expect(clientKey("fe80::1%eth0")).toBe("fe80::/64");
    expect(clientKey("::1")).toBe("::/64");
  });

  it("keys anything unparseable by itself", () => {
    expect(clientKey("not an address")).toBe("not an address");
    expect(clientKey("")).toBe("");
  });
});

/**
 * The client address behind trusted proxies (core/forwarded.ts): headers
 * count only when the peer is a listed proxy, the walk stops at the first
 * address no trusted proxy vouches for, and spoofing attempts get nowhere.
 */
import { describe, expect, test } from "bun:test";
import { forwardedChain, forwardedResolver, proxyEntryError } from "../../src/core/forwarded.ts";
import { parseOptions } from "../../src/core/options.ts";

const xff = (v: string) => new Headers({ "x-forwarded-for": v });
const fwd = (v: string) => new Headers({ forwarded: v });

describe("forwardedResolver", () => {
  test("with no trusted proxies the peer address is used and headers are never read", () => {
    const resolve = forwardedResolver([]);
    expect(resolve("10.0.0.2", xff("203.0.113.7"))).toBe("10.0.0.2");
  });

  test("a trusted proxy's X-Forwarded-For gives the client address", () => {
    const resolve = forwardedResolver(["10.0.0.0/8"]);
    expect(resolve("10.0.0.2", xff("203.0.113.7"))).toBe("203.0.113.7");
  });

  test("spoofing: a header from an untrusted peer is ignored", () => {
    const resolve = forwardedResolver(["10.0.0.1"]);
    expect(resolve("198.51.100.9", xff("203.0.113.7"))).toBe("198.51.100.9");
    expect(resolve("10.0.0.2", xff("203.0.113.7"))).toBe("10.0.0.2");
  });

  test("spoofing: addresses a client prepends are not believed past the first untrusted hop", () => {
    // The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real peer, 203.0.113.7.
    const resolve = forwardedResolver(["10.0.0.0/8"]);
    expect(resolve("10.0.0.2", xff("1.2.3.4, 203.0.113.7"))).toBe("203.0.113.7");
  });

  test("a chain of trusted proxies is walked back to the first untrusted address", () => {
    const resolve = forwardedResolver(["10.0.0.0/8", "192.168.1.5"]);
    expect(resolve("10.0.0.2", xff("1.2.3.4, 203.0.113.7, 192.168.1.5, 10.1.1.1"))).toBe("203.0.113.7");
  });

  test("spoofing: garbage or 'unknown' in the chain stops the walk at the proxy that reported it", () => {
    const resolve = forwardedResolver(["10.0.0.0/8"]);
    expect(resolve("10.0.0.2", xff("203.0.113.7, not-an-ip"))).toBe("10.0.0.2");
    expect(resolve("10.0.0.2", xff("203.0.113.7, 10.0.0.3, unknown"))).toBe("10.0.0.2");
  });

  test("a trusted proxy without the header: its own address", () => {
    expect(forwardedResolver(["10.0.0.0/8"])("10.0.0.2", new Headers())).toBe("10.0.0.2");
  });

  test("IPv4-mapped IPv6 peers match IPv4 ranges; IPv6 ranges match IPv6 peers", () => {
    const resolve = forwardedResolver(["127.0.0.1", "fd00::/8"]);
    expect(resolve("::ffff:127.0.0.1", xff("203.0.113.7"))).toBe("203.0.113.7");
    expect(resolve("fd12::1", xff("2001:db8::7"))).toBe("2001:db8::7");
    expect(resolve("2001:db8::99", xff("203.0.113.7"))).toBe("2001:db8::99");
  });

  test("Forwarded (RFC 7239): for= with quotes, brackets and ports", () => {
    const resolve = forwardedResolver(["10.0.0.0/8"], "forwarded");
    expect(resolve("10.0.0.2", fwd('for="[2001:db8:cafe::17]:4711";proto=https'))).toBe("2001:db8:cafe::17");
    expect(resolve("10.0.0.2", fwd("for=192.0.2.60;proto=http;by=203.0.113.43, for=198.51.100.17"))).toBe("198.51.100.17");
    expect(resolve("10.0.0.2", fwd("for=192.0.2.43:8080"))).toBe("192.0.2.43");
    expect(resolve("10.0.0.2", fwd("for=_hidden"))).toBe("10.0.0.2");
  });

  test("spoofing: only the configured header is read", () => {
    const both = new Headers({ "x-forwarded-for": "203.0.113.7", forwarded: "for=1.2.3.4" });
    expect(forwardedResolver(["10.0.0.0/8"], "x-forwarded-for")("10.0.0.2", both)).toBe("203.0.113.7");
    expect(forwardedResolver(["10.0.0.0/8"], "forwarded")("10.0.0.2", both)).toBe("1.2.3.4");
  });
});

describe("forwardedChain", () => {
  test("lists hops in header order, repeated headers joined", () => {
    const h = new Headers();
    h.append("x-forwarded-for", "1.1.1.1, 2.2.2.2");
    h.append("x-forwarded-for", "3.3.3.3");
    expect(forwardedChain(h, "x-forwarded-for")).toEqual(["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
  });
});

describe("trustedProxies option", () => {
  test("accepts addresses and CIDR ranges", () => {
    expect(proxyEntryError("10.0.0.0/8")).toBeUndefined();
    expect(proxyEntryError("::1")).toBeUndefined();
    expect(parseOptions({ trustedProxies: ["10.0.0.0/8", "::1"] }).trustedProxies).toEqual(["10.0.0.0/8", "::1"]);
  });

  test("a bad entry is a config error naming it", () => {
    expect(() => parseOptions({ trustedProxies: ["10.0.0.0/8", "proxy.local"] })).toThrow(/trustedProxies\.1: 'proxy\.local' is not an IP address or CIDR range/);
    expect(() => parseOptions({ trustedProxies: ["10.0.0.0/33"] })).toThrow(/trustedProxies\.0/);
  });
});

/**
 * The client's address behind reverse proxies: the peer address of the
 * socket, unless that peer is a trusted proxy, in which case the address it
 * forwarded (X-Forwarded-For or Forwarded), walking back through further
 * trusted proxies. Only listed proxies are believed: a header from anyone
 * else is ignored, so a client cannot pick the address its per-IP limits
 * and log lines use.
 *
 * Pure: no runtime APIs. Cost: nothing when no proxy is trusted; otherwise
 * one header parse per upgrade or HTTP request, never per frame.
 * @module
 */
import ipaddr from "ipaddr.js";

/** The header a trusted proxy writes the client address to. */
export const FORWARDED_HEADERS = ["x-forwarded-for", "forwarded"] as const;
export type ForwardedHeader = (typeof FORWARDED_HEADERS)[number];

/** Turns a peer address and the request headers into the client's address. */
export type ClientAddress = (peer: string, headers: Headers) => string;

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Why `entry` is not a proxy address or CIDR range, or undefined if it is.
 * For the options schema: a bad entry is a config error naming it.
 */
export function proxyEntryError(entry: string): string | undefined {
  if (entry.includes("/") ? ipaddr.isValidCIDR(entry) : ipaddr.isValid(entry)) return undefined;
  return `'${entry}' is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)`;
}

function toRange(entry: string): Range {
  if (entry.includes("/")) {
    const [addr, bits] = ipaddr.parseCIDR(entry);
    return normalize(addr, bits);
  }
  const addr = ipaddr.parse(entry);
  return normalize(addr, addr.kind() === "ipv4" ? 32 : 128);
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as dual-stack sockets report IPv4 peers) becomes plain IPv4. */
function normalize(addr: ipaddr.IPv4 | ipaddr.IPv6, bits: number): Range {
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

function parseAddress(raw: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ipaddr.isValid(raw)) return undefined;
  return normalize(ipaddr.parse(raw), 128)[0];
}

/**
 * Addresses listed in the header, nearest hop last. Values that are not an
 * address (`unknown`, `_hidden`, garbage) come back as undefined: the walk
 * stops there, at the proxy that reported them.
 */
export function forwardedChain(headers: Headers, header: ForwardedHeader): (string | undefined)[] {
  const value = headers.get(header);
  if (!value) return [];
  if (header === "x-forwarded-for") return value.split(",").map((s) => clean(s.trim()));
  // RFC 7239: elements separated by ",", pairs by ";", e.g. for="[2001:db8::1]:4711";proto=https
  return value.split(",").map((element) => {
    const pair = element.split(";").map((p) => p.trim()).find((p) => p.toLowerCase().startsWith("for="));
    return pair === undefined ? undefined : clean(pair.slice(4).trim().replace(/^"|"$/g, ""));
  });
}

/** `[v6]:port`, `v4:port`, `v6`, `v4` → the bare address; anything else → undefined. */
function clean(raw: string): string | undefined {
  let s = raw;
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket) s = bracket[1]!;
  else if (/^[\d.]+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(":"));
  return parseAddress(s)?.toString();
}

/**
 * A resolver trusting `proxies` (addresses or CIDR ranges). With none it
 * returns the peer address as it is, without reading any header.
 * @example
 * const clientAddress = forwardedResolver(["10.0.0.0/8"], "x-forwarded-for");
 * clientAddress("10.0.0.2", new Headers({ "x-forwarded-for": "203.0.113.7" })); // "203.0.113.7"
 */
export function forwardedResolver(proxies: readonly string[], header: ForwardedHeader = "x-forwarded-for"): ClientAddress {
  if (proxies.length === 0) return (peer) => peer;
  const ranges = proxies.map(toRange);
  const trusted = (addr: ipaddr.IPv4 | ipaddr.IPv6) => ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
  return (peer, headers) => {
    const peerAddr = parseAddress(peer);
    if (!peerAddr || !trusted(peerAddr)) return peer;
    const chain = forwardedChain(headers, header);
    let client = peerAddr.toString();
    // Walk from the nearest hop back; stop at the first address no trusted proxy vouches for.
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i];
      if (hop === undefined) break;
      client = hop;
      if (!trusted(ipaddr.parse(hop))) break;
    }
    return client;
  };
}

/**
 * trustedProxies end to end: behind a trusted proxy, per-IP connection
 * limits and log lines use the forwarded client address; without it (or
 * from an untrusted peer) the header changes nothing.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { startLoggedServer } from "../helpers/log-capture.ts";
import { tryUpgrade } from "../helpers/tokens.ts";

const from = (ip: string) => ({ headers: { "X-Forwarded-For": ip } });

describe("trustedProxies", () => {
  test("from a trusted proxy, maxConnectionsPerIp counts each forwarded client, and logs name it", async () => {
    const { server, logs } = await startLoggedServer({ trustedProxies: ["127.0.0.1"], limits: { maxConnectionsPerIp: 1 } });
    await using _ = server;
    const a = await tryUpgrade(server.port, from("203.0.113.7"));
    const b = await tryUpgrade(server.port, from("203.0.113.8"));
    const again = await tryUpgrade(server.port, from("203.0.113.7"));
    try {
      expect([a.status, b.status, again.status]).toEqual([101, 101, 429]);
      expect(again.body.error.code).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
      expect(logs.find({ event: "limit", code: ErrorCode.TOO_MANY_CONNECTIONS })[0]!.fields.ip).toBe("203.0.113.7");
      const connects = await Promise.all([logs.waitFor({ event: "connect", ip: "203.0.113.7" }), logs.waitFor({ event: "connect", ip: "203.0.113.8" })]);
      expect(connects).toHaveLength(2);
    } finally {
      a.close();
      b.close();
    }
  });

  test("without trustedProxies the header is ignored: every connection counts against the peer address", async () => {
    const { server, logs } = await startLoggedServer({ limits: { maxConnectionsPerIp: 1 } });
    await using _ = server;
    const a = await tryUpgrade(server.port, from("203.0.113.7"));
    const b = await tryUpgrade(server.port, from("203.0.113.8"));
    try {
      expect([a.status, b.status]).toEqual([101, 429]);
      expect(logs.find({ event: "limit", code: ErrorCode.TOO_MANY_CONNECTIONS })[0]!.fields.ip).toBe("127.0.0.1");
      expect(logs.text()).not.toContain("203.0.113.");
    } finally {
      a.close();
    }
  });

  test("a peer that is not a listed proxy cannot choose its address", async () => {
    const { server, logs } = await startLoggedServer({ trustedProxies: ["10.0.0.0/8"], limits: { maxConnectionsPerIp: 1 } });
    await using _ = server;
    const a = await tryUpgrade(server.port, from("203.0.113.7"));
    const b = await tryUpgrade(server.port, from("203.0.113.8"));
    try {
      expect([a.status, b.status]).toEqual([101, 429]);
      expect(logs.find({ event: "limit", code: ErrorCode.TOO_MANY_CONNECTIONS })[0]!.fields.ip).toBe("127.0.0.1");
    } finally {
      a.close();
    }
  });
});

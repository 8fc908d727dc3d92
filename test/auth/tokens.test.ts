/**
 * Token verification at the upgrade: every bad token is refused with HTTP
 * 401 and a documented code, by header and by `?token=`, before a socket
 * exists; good tokens (HS256, RS256 / EdDSA public keys, a JWKS) get in
 * with exactly their grants.
 */
import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";
import {
  ALL_TG,
  SECRET,
  forged,
  hs256,
  hs512,
  hsAuth,
  keyPair,
  tamperPayload,
  tryUpgrade,
  unsecured,
  type MintOptions,
} from "../helpers/tokens.ts";

const AUD = "tickgate";
const ISS = "https://issuer.test";

/** A token with full rights that the HS256 test server accepts, but for what `o` changes. */
const good = (o: MintOptions = {}) => hs256({ aud: AUD, iss: ISS, tg: ALL_TG, ...o });

/** A subscriber with full rights on `>`: must see nothing from a refused connection. */
async function watcher(server: TestServer): Promise<TestClient> {
  const c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await good({ sub: "watcher" })}` } });
  await subscribe(c, ">");
  return c;
}

async function expectRefused(server: TestServer, token: string, code: string): Promise<void> {
  const before = server.stats();
  for (const via of ["header", "query"] as const) {
    const r =
      via === "header"
        ? await tryUpgrade(server.port, { headers: { Authorization: `Bearer ${token}` } })
        : await tryUpgrade(server.port, { query: `token=${encodeURIComponent(token)}` });
    expect({ via, status: r.status, code: r.body?.error?.code }).toEqual({ via, status: 401, code });
    expect(typeof r.body.error.message).toBe("string");
    // The refusal never names the token back.
    expect(JSON.stringify(r.body)).not.toContain(token.split(".")[2] || token);
  }
  const after = server.stats();
  expect(after.connections).toBe(before.connections);
  expect(after.messages.publications).toBe(before.messages.publications);
  expect(after.security!.authFailures).toBe((before.security!.authFailures ?? 0) + 2);
}

describe("HS256 server: bad tokens are refused at the upgrade with 401", () => {
  const opts = { auth: hsAuth({ audience: AUD, issuer: ISS, clockToleranceSec: 5 }) };

  test("forged signature (another secret) → UNAUTHORIZED", async () => {
    await using server = await startServer(opts);
    await using w = await watcher(server);
    await expectRefused(server, await forged({ aud: AUD, iss: ISS, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    // A token signed right whose payload was swapped (grants widened) is as forged.
    const narrow = await good({ tg: { subscribe: ["x"] } });
    await expectRefused(server, tamperPayload(narrow, { sub: "alice", aud: AUD, iss: ISS, exp: 9_999_999_999, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    w.send({ t: "ping", id: "p" });
    await w.next((f) => f.t === "pong");
    expect(w.frames.filter((f) => f.t === "msg")).toEqual([]);
  });

  test("wrong algorithm: HS512 with the right secret, RS256 against an HS256 server → UNAUTHORIZED", async () => {
    await using server = await startServer(opts);
    await expectRefused(server, await hs512({ aud: AUD, iss: ISS, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    const rsa = await keyPair("RS256");
    await expectRefused(server, await rsa.sign({ aud: AUD, iss: ISS, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
  });

  test("alg: none (UnsecuredJWT) → UNAUTHORIZED", async () => {
    await using server = await startServer(opts);
    await expectRefused(server, unsecured({ aud: AUD, iss: ISS, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
  });

  test("expired (past clockTolerance) → TOKEN_EXPIRED", async () => {
    await using server = await startServer(opts);
    await expectRefused(server, await good({ expIn: -60 }), ErrorCode.TOKEN_EXPIRED);
  });

  test("not yet valid (nbf beyond clockTolerance) → UNAUTHORIZED", async () => {
    await using server = await startServer(opts);
    await expectRefused(server, await good({ nbfIn: 60 }), ErrorCode.UNAUTHORIZED);
  });

  test("wrong audience, no audience, wrong issuer → UNAUTHORIZED", async () => {
    await using server = await startServer(opts);
    await expectRefused(server, await good({ aud: "someone-else" }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await hs256({ iss: ISS, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await good({ iss: "https://evil.test" }), ErrorCode.UNAUTHORIZED);
  });

  test("malformed: garbage, no sub, bad tg claim, non-Bearer Authorization → UNAUTHORIZED", async () => {
    await using server = await startServer(opts);
    await expectRefused(server, "not-a-jwt", ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await good({ sub: null }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await good({ tg: { subscribe: "everything" } }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await good({ tg: { client: "root" } }), ErrorCode.UNAUTHORIZED);
    const basic = await tryUpgrade(server.port, { headers: { Authorization: `Basic ${btoa("alice:pw")}` } });
    expect([basic.status, basic.body.error.code]).toEqual([401, ErrorCode.UNAUTHORIZED]);
    // An Authorization header that is present but not Bearer does not fall back to ?token=.
    const both = await tryUpgrade(server.port, { headers: { Authorization: "Basic x" }, query: `token=${await good()}` });
    expect([both.status, both.body.error.code]).toEqual([401, ErrorCode.UNAUTHORIZED]);
  });
});

/** A connected client can use exactly the grants of its token. */
async function canUseGrant(server: TestServer, c: TestClient, topic: string): Promise<void> {
  await subscribe(c, topic);
  c.send({ t: "pub", id: "p1", topic, data: { ok: 1 } });
  expect((await c.next((f) => f.id === "p1")).t).toBe("ack");
  expect((await c.next((f) => f.t === "msg")).data).toEqual({ ok: 1 });
  c.send({ t: "sub", id: "s2", topic: "other.topic" });
  expect(await c.next((f) => f.id === "s2")).toMatchObject({ t: "error", code: ErrorCode.FORBIDDEN });
  expect(server.stats().connections).toBeGreaterThan(0);
}

describe("good tokens get in", () => {
  test("HS256 via Authorization header and via ?token=, in both encodings", async () => {
    await using server = await startServer({ auth: hsAuth({ audience: AUD, issuer: ISS }) });
    const topic = uniqueTopic("ok");
    const token = await good({ tg: { subscribe: [topic], publish: [topic] } });
    {
      await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${token}` } });
      await canUseGrant(server, c, topic);
    }
    {
      await using c = await connect(server.wsUrl, { encoding: "json", query: `token=${token}` });
      await canUseGrant(server, c, topic);
    }
  });

  test("?token= is ignored when auth.queryToken is false: the connection must authenticate", async () => {
    await using server = await startServer({ auth: hsAuth({ queryToken: false }) });
    const token = await hs256({ tg: ALL_TG });
    await using c = await connect(server.wsUrl, { query: `token=${token}` });
    c.send({ t: "sub", id: 1, topic: "a" });
    expect(await c.next((f) => f.id === 1)).toMatchObject({ t: "error", code: ErrorCode.UNAUTHORIZED });
  });

  test("RS256 with auth.publicKey; HS256 signed with the PEM as secret is refused", async () => {
    const rsa = await keyPair("RS256");
    await using server = await startServer({ auth: { required: true, publicKey: rsa.spki, publicKeyAlgorithm: "RS256" } });
    const topic = uniqueTopic("rs");
    await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await rsa.sign({ tg: { subscribe: [topic], publish: [topic] } })}` } });
    await canUseGrant(server, c, topic);
    // The classic key-confusion attack: HMAC keyed with the public key.
    await expectRefused(server, await hs256({ tg: ALL_TG }, rsa.spki), ErrorCode.UNAUTHORIZED);
    // Another RSA key's token.
    await expectRefused(server, await (await keyPair("RS256")).sign({ tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await hs256({ tg: ALL_TG }, SECRET), ErrorCode.UNAUTHORIZED);
  });

  test("EdDSA with auth.publicKey", async () => {
    const ed = await keyPair("EdDSA");
    await using server = await startServer({ auth: { required: true, publicKey: ed.spki, publicKeyAlgorithm: "EdDSA" } });
    const topic = uniqueTopic("ed");
    await using c = await connect(server.wsUrl, { query: `token=${await ed.sign({ tg: { subscribe: [topic], publish: [topic] } })}` });
    await canUseGrant(server, c, topic);
    await expectRefused(server, await (await keyPair("EdDSA")).sign({ tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
  });

  test("a JWKS with RS256 and EdDSA keys: both sign; a key outside the set and a kid swap are refused", async () => {
    const rsa = await keyPair("RS256");
    const ed = await keyPair("EdDSA");
    await using server = await startServer({ auth: { required: true, jwks: { keys: [rsa.jwk, ed.jwk] }, audience: AUD } });
    const topic = uniqueTopic("jwks");
    const tg = { subscribe: [topic], publish: [topic] };
    {
      await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await rsa.sign({ aud: AUD, tg })}` } });
      await canUseGrant(server, c, topic);
    }
    {
      await using c = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await ed.sign({ aud: AUD, tg })}` } });
      await canUseGrant(server, c, topic);
    }
    const stranger = await keyPair("RS256");
    await expectRefused(server, await stranger.sign({ aud: AUD, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    // The stranger claims the trusted key's kid: the signature still does not verify.
    const { SignJWT } = await import("jose");
    const swapped = await new SignJWT({ sub: "mallory", aud: AUD, exp: Math.floor(Date.now() / 1000) + 60, tg: ALL_TG })
      .setProtectedHeader({ alg: "RS256", kid: rsa.kid })
      .sign(stranger.privateKey);
    await expectRefused(server, swapped, ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await rsa.sign({ aud: "other", tg }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, await hs256({ aud: AUD, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
    await expectRefused(server, unsecured({ aud: AUD, tg: ALL_TG }), ErrorCode.UNAUTHORIZED);
  });
});

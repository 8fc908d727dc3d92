/**
 * Test tokens: minted with jose the way an issuer would (HS256 with a shared
 * secret, RS256 / EdDSA with a key pair, a JWKS), plus deliberately bad
 * ones (forged, wrong algorithm, `alg: none`, expired, not yet valid, wrong
 * audience or issuer). Also `tryUpgrade`, which sends a WebSocket upgrade
 * over a raw socket so a refusal's HTTP status and JSON body can be read
 * (a WebSocket client only reports "could not connect").
 */
import net from "node:net";
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from "jose";

/** The server's HS256 secret (at least 32 characters). */
export const SECRET = "tickgate-test-secret-0123456789-abcdefghijklmnop";
/** Another secret of the same shape: tokens signed with it are forged. */
export const OTHER_SECRET = "an-attackers-guess-0123456789-zyxwvutsrqponmlk";

export interface TgClaim {
  client?: "browser" | "api" | "device" | "mobile";
  subscribe?: string[];
  publish?: string[];
  request?: string[];
  admin?: boolean;
}

export interface MintOptions {
  /** Defaults to "alice"; `null` leaves the claim out. */
  sub?: string | null;
  tg?: TgClaim | Record<string, unknown>;
  /** Seconds from now; defaults to 300; `null` leaves `exp` out. */
  expIn?: number | null;
  /** Seconds from now for `nbf`. */
  nbfIn?: number;
  aud?: string | string[];
  iss?: string;
  /** Any other claims (e.g. for `{claim}` templates). */
  extra?: Record<string, unknown>;
}

const now = () => Math.floor(Date.now() / 1000);

export function claims(o: MintOptions = {}): JWTPayload {
  const c: JWTPayload = { ...(o.extra ?? {}), iat: now() };
  if (o.sub !== null) c.sub = o.sub ?? "alice";
  if (o.tg !== undefined) c.tg = o.tg;
  if (o.expIn !== null) c.exp = now() + (o.expIn ?? 300);
  if (o.nbfIn !== undefined) c.nbf = now() + o.nbfIn;
  if (o.aud !== undefined) c.aud = o.aud;
  if (o.iss !== undefined) c.iss = o.iss;
  return c;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** An HS256 token signed with {@link SECRET} (or `secret`). */
export function hs256(o: MintOptions = {}, secret = SECRET): Promise<string> {
  return new SignJWT(claims(o)).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(enc(secret));
}

/** Signed with the right secret but HS512: a server configured for HS256 must refuse it. */
export function hs512(o: MintOptions = {}, secret = SECRET): Promise<string> {
  return new SignJWT(claims(o)).setProtectedHeader({ alg: "HS512", typ: "JWT" }).sign(enc(secret));
}

/** An HS256 token signed with another secret. */
export function forged(o: MintOptions = {}): Promise<string> {
  return hs256(o, OTHER_SECRET);
}

/** `alg: none`, no signature (`header.payload.`). */
export function unsecured(o: MintOptions = {}): string {
  return new UnsecuredJWT(claims(o)).encode();
}

/** Takes a valid token and swaps its payload for another one, keeping the signature. */
export function tamperPayload(token: string, payload: Record<string, unknown>): string {
  const [h, , s] = token.split(".");
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
}

/** The signature segment, which must never appear in a log. */
export function signatureOf(token: string): string {
  return token.split(".")[2] ?? "";
}

export interface KeyPair {
  alg: "RS256" | "EdDSA" | "ES256";
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** SPKI PEM, for `auth.publicKey`. */
  spki: string;
  /** Public JWK with `kid`, `alg` and `use`, for `auth.jwks`. */
  jwk: JWK;
  kid: string;
  sign(o?: MintOptions): Promise<string>;
}

let kids = 0;
export async function keyPair(alg: KeyPair["alg"]): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : {});
  const kid = `k${++kids}-${alg}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  const spki = await exportSPKI(publicKey);
  return {
    alg,
    privateKey,
    publicKey,
    spki,
    jwk,
    kid,
    sign: (o = {}) => new SignJWT(claims(o)).setProtectedHeader({ alg, kid, typ: "JWT" }).sign(privateKey),
  };
}

/** Auth options for an HS256 server; merge more over it. */
export function hsAuth(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { required: true, secret: SECRET, ...extra };
}

/** Full rights: subscribe, publish and request everything. */
export const ALL_TG: TgClaim = { subscribe: [">"], publish: [">"], request: [">"], admin: true };

export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string>;
  /** The JSON error body of a refusal, when there is one. */
  body: any;
  /** Closes the socket (a 101 leaves it open). */
  close(): void;
}

/**
 * Sends a WebSocket upgrade request over a raw TCP socket and reads the
 * HTTP answer: 101 for an accepted one, else the refusal's status and JSON.
 */
export async function tryUpgrade(
  port: number,
  opts: { path?: string; query?: string; headers?: Record<string, string>; host?: string } = {},
): Promise<UpgradeAnswer> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  const path = (opts.path ?? "/ws") + (opts.query ? `?${opts.query}` : "");
  const headers: Record<string, string> = {
    Host: opts.host ?? `127.0.0.1:${port}`,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16)))),
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Protocol": "tickgate.json",
    ...(opts.headers ?? {}),
  };
  socket.write(`GET ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
  let buf = Buffer.alloc(0);
  const text = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to the upgrade within 5 s: ${buf.toString()}`)), 5000);
    const done = () => (clearTimeout(timer), resolve(buf.toString("latin1")));
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1");
      if (head.startsWith("HTTP/1.1 101")) return done();
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (len && buf.length >= end + 4 + Number(len[1])) return done();
    });
    socket.once("close", done);
  });
  const end = text.indexOf("\r\n\r\n");
  const head = text.slice(0, end < 0 ? text.length : end);
  const [statusLine, ...lines] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  const hdrs: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0) hdrs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body: any = null;
  if (status !== 101 && end >= 0) {
    const raw = text.slice(end + 4);
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  if (status !== 101) socket.destroy();
  return { status, headers: hdrs, body, close: () => socket.destroy() };
}

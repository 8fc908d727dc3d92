/**
 * The wire facts owned once (issue 10, item 3): the server's zod schemas are
 * written from `wire.ts`, which the client shares, and every error thrown by
 * decoding, scanning, config or the client is one `TickgateError` family
 * with a `code`.
 */
import { describe, expect, test } from "bun:test";
import { TickgateClientError } from "../../src/client/errors.ts";
import { ConfigError, TickgateError as CoreTickgateError } from "../../src/core/errors.ts";
import { DecodeError, decodeBinary, decodeText, packr } from "../../src/protocol/codec.ts";
import { TickgateError } from "../../src/protocol/errors.ts";
import { clientFrameSchemas, SUBPROTOCOL as FRAMES_SUBPROTOCOL } from "../../src/protocol/frames.ts";
import { ScanError, skipValue } from "../../src/protocol/msgpack-scan.ts";
import { CLIENT_FRAME_TYPES, LIMITS, LOG_LEVELS, SUBPROTOCOL } from "../../src/protocol/wire.ts";

const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
};

describe("protocol/wire.ts", () => {
  test("the schemas cover exactly the frame types wire.ts names", () => {
    expect(Object.keys(clientFrameSchemas).sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
  });

  test("frames.ts re-exports the same subprotocol names", () => {
    expect(FRAMES_SUBPROTOCOL).toBe(SUBPROTOCOL);
    expect(SUBPROTOCOL).toEqual({ msgpack: "tickgate.msgpack", json: "tickgate.json" });
  });

  test("the schemas enforce the limits wire.ts states, to the character", () => {
    const fits = (frame: object) => decodeText(JSON.stringify(frame)).frame;
    const refused = (frame: object) => (codeOf(() => decodeText(JSON.stringify(frame))) as DecodeError).code;
    expect(fits({ t: "sub", topic: "a".repeat(LIMITS.topicLength) }).t).toBe("sub");
    expect(refused({ t: "sub", topic: "a".repeat(LIMITS.topicLength + 1) })).toBe("INVALID_FRAME");
    expect(fits({ t: "pub", topic: "x", key: "k".repeat(LIMITS.keyLength), data: 1 }).t).toBe("pub");
    expect(refused({ t: "pub", topic: "x", key: "k".repeat(LIMITS.keyLength + 1), data: 1 })).toBe("INVALID_FRAME");
    expect(fits({ t: "ping", id: "i".repeat(LIMITS.idLength) }).t).toBe("ping");
    expect(refused({ t: "ping", id: "i".repeat(LIMITS.idLength + 1) })).toBe("INVALID_FRAME");
    expect(fits({ t: "log", level: LOG_LEVELS[3], message: "m".repeat(LIMITS.logMessageLength) }).t).toBe("log");
    expect(refused({ t: "log", message: "m".repeat(LIMITS.logMessageLength + 1) })).toBe("INVALID_FRAME");
    expect(refused({ t: "command", id: 1, device: "d", name: "n", ttlMs: LIMITS.commandTtlMs + 1 })).toBe("INVALID_FRAME");
    expect(fits({ t: "command", id: 1, device: "d", name: "n", ttlMs: LIMITS.commandTtlMs }).t).toBe("command");
  });
});

describe("TickgateError family", () => {
  test("decoding, scanning, config and client errors are all TickgateErrors with a code", () => {
    const decode = codeOf(() => decodeText("{"));
    expect(decode).toBeInstanceOf(DecodeError);
    expect(decode).toBeInstanceOf(TickgateError);
    expect((decode as TickgateError).code).toBe("BAD_FRAME");

    const binary = codeOf(() => decodeBinary(packr.pack({ t: "nope" })));
    expect(binary).toBeInstanceOf(TickgateError);
    expect((binary as TickgateError).code).toBe("UNKNOWN_TYPE");

    const scan = codeOf(() => skipValue(Uint8Array.of(0xdc, 0x00), 0));
    expect(scan).toBeInstanceOf(ScanError);
    expect(scan).toBeInstanceOf(TickgateError);
    expect((scan as ScanError).code).toBe("BAD_FRAME");
    expect((scan as ScanError).offset).toBeGreaterThanOrEqual(0);

    expect(ConfigError.format("port", "must be a number")).toBeInstanceOf(TickgateError);
    expect(new TickgateClientError("TIMEOUT", "late")).toBeInstanceOf(TickgateError);
  });

  test("core/errors.ts still exports the same base class", () => {
    expect(CoreTickgateError).toBe(TickgateError);
  });
});

/** The public entry point exports the API, not the implementation (STYLE.md §9): no class or subsystem is reachable. */
import { describe, expect, test } from "bun:test";
import * as bun from "../../src/adapter/bun/index.ts";
import * as tickgate from "../../src/index.ts";

describe("tickgate exports", () => {
  test("the runtime-free entry lists only its functions, errors and constants", () => {
    expect(Object.keys(tickgate).sort()).toEqual(
      ["BATCH_SUBPROTOCOL", "CloseCode", "ConfigError", "DEFAULT_POLICY", "ErrorCode", "GapReason", "LocalBus", "ProtocolError", "SUBPROTOCOL", "TickgateError", "TimeoutError", "defaultOptions", "httpRoutes", "mintToken", "parseOptions"].sort(),
    );
  });

  test("createServer gives the public API; subsystems are not on its type, and closeOnSignal is a function of tickgate/bun", async () => {
    const server = bun.createServer({ host: "127.0.0.1", port: 0 });
    await server.listen();
    try {
      expect(typeof server.publish).toBe("function");
      // @ts-expect-error the broker is internal
      void server.broker;
      // @ts-expect-error closeOnSignal left the server: signals are the runtime's business
      void server.closeOnSignal;
      expect(typeof bun.closeOnSignal).toBe("function");
    } finally {
      await server.close();
    }
  });
});

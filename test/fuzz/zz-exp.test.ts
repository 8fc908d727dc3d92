import { test, expect } from "bun:test";
import { startServer } from "../helpers/server.ts";
import { connect } from "../helpers/client.ts";
test("exp", async () => {
  await using server = await startServer();
  await using c = await connect(server.wsUrl, { encoding: "json" });
  c.sendRaw('{"t":{"toString":1},"id":"x1"}');
  c.sendRaw('{"t":"ping","id":"p1"}');
  const f = await c.next();
  console.log("first", f);
  const g = await c.next(undefined, 1000).catch((e) => String(e));
  console.log("second", g);
});

import { test, expect } from "bun:test";
import { startServer, uniqueTopic } from "../helpers/server.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { packr } from "../../src/protocol/codec.ts";
test("order", async () => {
  await using server = await startServer();
  server.handle("echo", (d) => d);
  await using p = await connect(server.wsUrl, { encoding: "msgpack" });
  for (let i = 0; i < 200; i++) { p.send({ t: "req", id: "r" + i, method: i % 2 ? "echo" : "none", data: i }); p.send({ t: "ping", id: "s" + i }); }
  const fr = await p.collect(400);
  let bad = 0;
  for (let i = 0; i < 200; i++) if (fr[2 * i]!.id !== "r" + i || fr[2*i+1]!.id !== "s" + i) bad++;
  console.log("out of order", bad, fr.slice(0, 4).map((f) => f.id));
});
test("deep json", async () => {
  await using server = await startServer();
  const topic = uniqueTopic("x");
  await using m = await connect(server.wsUrl, { encoding: "msgpack" });
  await subscribe(m, topic);
  await using p = await connect(server.wsUrl, { encoding: "json" });
  for (const d of [100, 100000]) {
    p.sendRaw(`{"t":"pub","id":"d${d}","topic":"${topic}","data":${"[".repeat(d)}${"]".repeat(d)}}`);
    console.log(d, await p.next());
  }
  console.log("sub got", (await m.next(undefined, 500).catch((e) => String(e)))?.seq);
  p.sendRaw(`{"t":"pub","id":"ls","topic":"${topic}","data":"\\ud800"}`);
  console.log(await p.next());
  console.log("sub got2", (await m.next(undefined, 500).catch((e) => String(e))));
});

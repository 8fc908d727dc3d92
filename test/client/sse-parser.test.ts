/**
 * SseParser: the event-stream format, fed in chunks split anywhere.
 */
import { describe, expect, test } from "bun:test";
import { SseParser, type SseEvent } from "../../src/client/sse-parser.ts";

function parse(chunks: string[]): SseEvent[] {
  const out: SseEvent[] = [];
  const p = new SseParser((e) => out.push(e));
  for (const c of chunks) p.feed(c);
  return out;
}

const STREAM =
  "\uFEFFevent: welcome\ndata: {\"t\":\"welcome\"}\n\n" +
  ": ping\n\n" +
  "event: msg\r\nid: e1,a 1\r\ndata: {\"t\":\"msg\",\r\ndata: \"seq\":1}\r\n\r\n" +
  "data:no space\rid\r\r" +
  "event: gap\ndata: x\nretry: 100\nunknown: y\n\n" +
  "event: msg\ndata: pending";

const EXPECTED: SseEvent[] = [
  { event: "welcome", data: '{"t":"welcome"}', id: undefined },
  { event: "msg", data: '{"t":"msg",\n"seq":1}', id: "e1,a 1" },
  { event: "message", data: "no space", id: "" },
  { event: "gap", data: "x", id: undefined },
];

describe("SseParser", () => {
  test("parses fields, comments, CRLF / CR / LF line ends and multi-line data; holds an unfinished event", () => {
    expect(parse([STREAM])).toEqual(EXPECTED);
  });

  test("gives the same events however the stream is split, CRLF pairs included", () => {
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < STREAM.length; i += size) chunks.push(STREAM.slice(i, i + size));
      expect(parse(chunks)).toEqual(EXPECTED);
    }
    // Every single split point, in two chunks.
    for (let i = 0; i <= STREAM.length; i++) expect(parse([STREAM.slice(0, i), STREAM.slice(i)])).toEqual(EXPECTED);
  });

  test("an event with no data lines is not dispatched, and does not leak its fields into the next", () => {
    expect(parse(["event: lonely\nid: 7\n\ndata: next\n\n"])).toEqual([{ event: "message", data: "next", id: undefined }]);
  });
});

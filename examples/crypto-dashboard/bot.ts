/**
 * The seed's Telegram bot, on the tickgate SDK: subscribes to the
 * dashboard's alerts (`alerts.*`) and prints what it would send to a chat.
 * Wire `send` to a real chat API to make it one; a bot that reconnects
 * replays the alerts it missed (the server keeps an hour of them).
 *
 *   npm run example:crypto-dashboard:bot -- [ws://127.0.0.1:8081/ws] [--chat @traders]
 * @module
 */
import { TickgateClient } from "tickgate/client";
import { TOPICS, type Alert } from "./types.ts";

const ICON: Record<Alert["level"], string> = { info: "ℹ️", warning: "⚠️", critical: "🚨" };

/** The chat message for an alert. */
export function chatMessage(a: Alert): string {
  return `${ICON[a.level]} ${a.kind === "operator" ? "Operator" : "Price"} alert: ${a.message}`;
}

export interface AlertBot {
  client: TickgateClient;
  stop(): void;
}

/** Connects as an `api` client and calls `send(chat, text)` for each alert; its connection states and errors go to `log`. */
export function runBot(url: string, chat: string, send: (chat: string, text: string) => void, log: (line: string) => void = (l) => console.error(l)): AlertBot {
  const client = new TickgateClient(url, { clientType: "api", reconnect: { minDelayMs: 500, maxDelayMs: 10_000 } });
  client.on("state", (s) => log(`alert bot: ${s}`));
  client.on("error", (e) => log(`alert bot: ${e.code}: ${e.message}`));
  client.subscribe<Alert>(TOPICS.alerts, (a) => send(chat, chatMessage(a)));
  client.connect();
  return { client, stop: () => client.close() };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const i = args.indexOf("--chat");
  const chat = i >= 0 ? (args[i + 1] ?? "@alerts") : "@alerts";
  const url = args.find((a, j) => /^wss?:\/\//.test(a) && j !== i + 1) ?? "ws://127.0.0.1:8081/ws";
  const bot = runBot(url, chat, (to, text) => console.log(`→ ${to}: ${text}`));
  const stop = () => {
    bot.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

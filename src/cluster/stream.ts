/**
 * The JetStream stream behind a cluster: created (or brought up to date) at
 * connect, and the source of the cluster's epoch. Runs once per node start.
 *
 * One stream holds every topic of a cluster name. Its per-subject limit is
 * the deepest history any policy keeps (at least 1, because the last
 * message of a topic carries the topic's seq, which the next writer
 * continues from). There is deliberately no age limit on the stream: an
 * age limit could empty a topic and restart its numbering at 1 under the
 * same epoch; history age (`historyTtlMs`) is applied when reading instead.
 * @module
 */
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import type { Subjects } from "./subjects.ts";

export interface StreamPlan {
  /** Messages kept per topic (>= 1). */
  keepPerTopic: number;
  /** Copies of each message on distinct NATS servers (1 or 3 typically). */
  replicas: number;
  /** How long to keep trying to create the stream before failing the start. */
  setupTimeoutMs: number;
}

/** Creates the stream or updates its limits; resolves to the epoch. */
export async function ensureStream(jsm: JetStreamManager, subjects: Subjects, plan: StreamPlan): Promise<string> {
  const config: Partial<StreamConfig> & { name: string } = {
    name: subjects.stream,
    subjects: [`${subjects.input}>`],
    max_msgs_per_subject: Math.max(1, plan.keepPerTopic),
    num_replicas: plan.replicas,
    allow_direct: true,
    // Only a stored message is republished, in stream order: nodes never see
    // a publication the stream refused (e.g. a second writer's seq).
    republish: { src: `${subjects.input}>`, dest: `${subjects.output}>` },
    duplicate_window: 120_000_000_000,
  };
  // A NATS cluster that has just formed may refuse a replicated stream for a
  // moment (peers not yet current): retry, bounded, then give the real error.
  const deadline = Date.now() + plan.setupTimeoutMs;
  let created: string | undefined;
  for (let attempt = 0; created === undefined; attempt++) {
    try {
      created = await createOrUpdate(jsm, subjects.stream, config);
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (attempt + 1))));
    }
  }
  return await epochOf(subjects.stream, created);
}

async function createOrUpdate(jsm: JetStreamManager, name: string, config: Partial<StreamConfig> & { name: string }): Promise<string> {
  try {
    const info = await jsm.streams.info(name);
    const c = info.config;
    if (c.max_msgs_per_subject !== config.max_msgs_per_subject || c.num_replicas !== config.num_replicas) {
      await jsm.streams.update(name, { ...c, max_msgs_per_subject: config.max_msgs_per_subject, num_replicas: config.num_replicas });
    }
    return info.created;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  try {
    return (await jsm.streams.add(config)).created;
  } catch (e) {
    // Another node may have created it first: read what it made (or fail with the add's error).
    try {
      return (await jsm.streams.info(name)).created;
    } catch {
      throw e;
    }
  }
}

/**
 * The epoch is the stream's identity: its name and creation time, hashed.
 * Every node reads the same value; deleting and recreating the stream (which
 * loses the history) changes it, so clients know their positions are void.
 */
export async function epochOf(stream: string, created: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${stream}@${created}`));
  return Array.from(new Uint8Array(digest).subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

function isNotFound(e: unknown): boolean {
  const err = e as { code?: number | string; api_error?: { err_code?: number }; message?: string };
  return err?.api_error?.err_code === 10059 || err?.code === 10059 || /not found/i.test(err?.message ?? "");
}

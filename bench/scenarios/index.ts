/**
 * Every scenario of `bun run bench`, in the order a full run takes them;
 * those marked `onDemand` (micro, soak) run only when named.
 * @module
 */
import type { Scenario } from "../lib/scenario.ts";
import { clusterScenario } from "./cluster.ts";
import { connectionsScenario } from "./connections.ts";
import { encodingsScenario } from "./encodings.ts";
import { fanoutScenario } from "./fanout.ts";
import { filtersScenario } from "./filters.ts";
import { ingestScenario } from "./ingest.ts";
import { lingerScenario } from "./linger.ts";
import { microScenario } from "./micro.ts";
import { recoveryScenario } from "./recovery.ts";
import { slowScenario } from "./slow.ts";
import { soakScenario } from "./soak.ts";
import { topicsScenario } from "./topics.ts";

export const SCENARIOS: Scenario[] = [fanoutScenario, topicsScenario, filtersScenario, ingestScenario, connectionsScenario, slowScenario, encodingsScenario, lingerScenario, recoveryScenario, clusterScenario, microScenario, soakScenario];

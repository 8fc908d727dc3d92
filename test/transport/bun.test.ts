import { bunTransport } from "../../src/transport/bun.ts";
import { runTransportSuite } from "../conformance/transport.case.ts";

runTransportSuite("Bun.serve", bunTransport);

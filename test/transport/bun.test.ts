import { bunTransport } from "../../src/adapter/bun/transport.ts";
import { runTransportSuite } from "../conformance/transport.case.ts";

runTransportSuite("Bun.serve", bunTransport);

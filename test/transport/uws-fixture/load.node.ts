/**
 * Loads uWebSockets.js under Node the way the transport does and prints
 * what happened as one JSON line, for uws.test.ts. argv[2]: a module name
 * (else the defaults).
 */
import { isNativeBuild, loadUws } from "../../../src/adapter/uws/load.ts";

const name = process.argv[2];
try {
  const mod = await loadUws(name ? [name] : undefined);
  console.log(JSON.stringify({ ok: true, native: isNativeBuild(mod) }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: (e as Error).name, code: (e as { code?: string }).code, message: (e as Error).message }));
}

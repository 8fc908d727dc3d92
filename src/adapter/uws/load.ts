/**
 * Finds a native uWebSockets.js build. The module name is configuration
 * (default: `uWebSockets.js`, then the registry builds known to be
 * compatible); a build that silently fell back to a JavaScript
 * implementation is refused, since it would be a slower, different server
 * wearing uWS's name. Runs once per transport, never on the hot path.
 * @module
 */
import { ConfigError } from "../../core/errors.ts";
import type { UwsModule } from "./uws-types.ts";

/** Tried in order when no module is configured. */
export const DEFAULT_UWS_MODULES = ["uWebSockets.js", "@trufflesuite/uws-js-unofficial", "@btc-vision/uwebsockets.js"] as const;

/** What to install, said in every refusal. */
const INSTALL_HINT = "install a native uWebSockets.js build for this Node (e.g. npm install @trufflesuite/uws-js-unofficial@20.30.0-unofficial.0 on Node 20)";

/** A native addon's functions print as `[native code]`; the ws-based fallbacks are plain JavaScript. */
export function isNativeBuild(mod: Partial<UwsModule>): boolean {
  return typeof mod.App === "function" && Function.prototype.toString.call(mod.App).includes("[native code]");
}

function notFound(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

/**
 * Loads the first of `modules` that is installed and refuses, with one line,
 * when it is not the native build or none is installed.
 * @example
 * const uws = await loadUws(["uWebSockets.js"]);
 */
export async function loadUws(modules: readonly string[] = DEFAULT_UWS_MODULES): Promise<UwsModule> {
  if (typeof process === "undefined" || process.versions?.bun || !process.versions?.node) {
    throw ConfigError.format("uws.module", `uWebSockets.js is a Node addon and does not run under ${process?.versions?.bun ? "Bun" : "this runtime"}; use tickgate/bun there, or run on Node and ${INSTALL_HINT}`);
  }
  // Each refusal is kept: a later name in the list may still load (say,
  // uWebSockets.js built for another glibc, then a registry build that fits).
  const refusals: string[] = [];
  for (const name of modules) {
    let loaded: { default?: Partial<UwsModule> } & Partial<UwsModule>;
    try {
      // A variable specifier: the bundler leaves it alone and Node resolves it at run time.
      loaded = await import(name);
    } catch (e) {
      refusals.push(notFound(e) ? `'${name}' is not installed` : `'${name}' does not load (${String((e as Error).message).split("\n")[0]!.slice(0, 120)})`);
      continue;
    }
    const mod = (loaded.default ?? loaded) as Partial<UwsModule>;
    if (isNativeBuild(mod)) return mod as UwsModule;
    refusals.push(`'${name}' loaded a JavaScript fallback, not its native build`);
  }
  throw ConfigError.format("uws.module", `no native uWebSockets.js for Node ${process.versions.node} (ABI ${process.versions.modules}): ${refusals.join("; ")}; ${INSTALL_HINT}`);
}

// What run_client.mjs and run_loop.mjs share: loading the client asked for, capturing the console,
// one run with a timeout, and the main loop over the specs of a JSON file.
//
//   node <script> specs.json results.json [client-package]
//
// client-package: "@ag-ui/client" (1.0.0, the default) or "ag-ui-client-0.0.59" (the npm alias
// package.json installs 0.0.59 under); every result names the version that ran (clientVersion).

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const RUN_TIMEOUT_MS = 20000;

export const clientPackage = process.argv[4] ?? "@ag-ui/client";
export const { HttpAgent } = await import(clientPackage);
const require = createRequire(import.meta.url);
export const clientVersion = JSON.parse(
  readFileSync(join(dirname(require.resolve(clientPackage)), "..", "package.json"), "utf8")).version;

// Everything written to console.warn / .error / .log, where the client reports stripped fields
// and other "[ag-ui]" warnings.
export const captured = [];
for (const level of ["warn", "error", "log"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    captured.push({
      level,
      text: args.map((a) => (a instanceof Error ? String(a) : typeof a === "string" ? a : JSON.stringify(a))).join(" "),
    });
    if (process.env.AGUI_CONFORMANCE_ECHO) original(...args);
  };
}

// One runAgent call: {error, events, newMessages}; error is what it threw (a protocol violation
// the client's verifyEvents found, an HTTP error, a frame that is not JSON), or null.
export async function run(agent, parameters) {
  const events = [];
  const abortController = new AbortController();
  const timer = setTimeout(() => abortController.abort(new Error(`run timed out after ${RUN_TIMEOUT_MS} ms`)),
    RUN_TIMEOUT_MS);
  let error = null;
  let newMessages = null;
  try {
    const result = await agent.runAgent({ ...parameters, abortController },
      { onEvent: ({ event }) => { events.push(event); } });
    newMessages = result.newMessages;
  } catch (exc) {
    error = exc instanceof Error ? `${exc.name}: ${exc.message}` : String(exc);
  } finally {
    clearTimeout(timer);
  }
  return { error, events, newMessages };
}

// Runs ``one`` on each spec of the file, one after another, and writes the results.
export async function main(one) {
  const [specsPath, resultsPath] = process.argv.slice(2);
  const specs = JSON.parse(readFileSync(specsPath, "utf8"));
  const results = [];
  for (const spec of specs) {
    captured.length = 0;
    results.push({ ...(await one(spec)), id: spec.id, clientVersion, console: [...captured] });
  }
  writeFileSync(resultsPath, JSON.stringify(results));
}

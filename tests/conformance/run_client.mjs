// Runs the official AG-UI client (@ag-ui/client HttpAgent) against the proxy, one case after another.
//
//   node run_client.mjs cases.json results.json [client-package]
//
// client-package: the installed name of the client to run, "@ag-ui/client" (1.0.0) by default, or
// "ag-ui-client-0.0.59" (the npm alias package.json installs 0.0.59 under); the results name the
// version that ran (clientVersion).
// cases.json: [{id, url, headers?, threadId, runId, messages, tools?, context?}, ...]
// results.json: one entry per case, in order:
//   {id, threadId, runId, error, events, newMessages, messages, console}
// - error: what runAgent threw (a protocol violation the client's verifyEvents found, an HTTP
//   error, a frame that is not JSON), or null;
// - events: every event the client accepted, as its subscribers saw them (after its own schema
//   validation, which strips and warns about anything it does not know);
// - newMessages / messages: what the client assembled from the stream;
// - console: everything written to console.warn / console.error / console.log during the case,
//   where the client reports stripped fields and other "[ag-ui]" warnings.
//
// Driven by tests/conformance/test_official_client.py; all cases in one process, because
// starting Node and loading the client is most of the cost of a case.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const clientPackage = process.argv[4] ?? "@ag-ui/client";
const { HttpAgent } = await import(clientPackage);
const require = createRequire(import.meta.url);
const clientVersion = JSON.parse(
  readFileSync(join(dirname(require.resolve(clientPackage)), "..", "package.json"), "utf8")).version;

const CASE_TIMEOUT_MS = 20000;

const captured = [];
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

async function runCase(spec) {
  captured.length = 0;
  const events = [];
  const agent = new HttpAgent({
    url: spec.url,
    headers: spec.headers ?? {},
    threadId: spec.threadId,
    initialMessages: spec.messages ?? [],
  });
  const abortController = new AbortController();
  const timer = setTimeout(() => abortController.abort(new Error(`case timed out after ${CASE_TIMEOUT_MS} ms`)),
    CASE_TIMEOUT_MS);
  let error = null;
  let newMessages = null;
  try {
    const result = await agent.runAgent(
      { runId: spec.runId, tools: spec.tools ?? [], context: spec.context ?? [], abortController },
      { onEvent: ({ event }) => { events.push(event); } },
    );
    newMessages = result.newMessages;
  } catch (exc) {
    error = exc instanceof Error ? `${exc.name}: ${exc.message}` : String(exc);
  } finally {
    clearTimeout(timer);
  }
  return {
    id: spec.id, clientVersion, threadId: spec.threadId, runId: spec.runId, error, events, newMessages, messages: agent.messages,
    console: [...captured],
  };
}

const [casesPath, resultsPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
const results = [];
for (const spec of cases) {
  results.push(await runCase(spec));
}
writeFileSync(resultsPath, JSON.stringify(results));

// A tool loop driven by the official AG-UI client, as a frontend drives it, one loop after another.
//
//   node run_loop.mjs loops.json results.json [client-package]
//
// loops.json: [{id, url, headers?, threadId, runIds: [turn1, turn2], messages, tools, toolResult}, ...]
// For each loop: HttpAgent runs turn 1; for every tool call the run made, the loop appends a tool
// message answering it (content: toolResult), with addMessage as a frontend does; the agent runs
// turn 2 with everything it holds, including what it stored from turn 1 (REASONING_ENCRYPTED_VALUE
// on tool calls and reasoning messages).
// results.json: per loop {id, clientVersion, turns: [{error, events}], afterTurn1, messages, console}.
// client-package: "@ag-ui/client" (1.0.0, the default) or "ag-ui-client-0.0.59" (the npm alias).
// Driven by tests/conformance/test_multi_turn.py.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const clientPackage = process.argv[4] ?? "@ag-ui/client";
const { HttpAgent } = await import(clientPackage);
const require = createRequire(import.meta.url);
const clientVersion = JSON.parse(
  readFileSync(join(dirname(require.resolve(clientPackage)), "..", "package.json"), "utf8")).version;

const TURN_TIMEOUT_MS = 20000;
const captured = [];
for (const level of ["warn", "error", "log"]) {
  console[level] = (...args) => {
    captured.push({ level, text: args.map((a) => (typeof a === "string" ? a : String(a))).join(" ") });
  };
}

async function turn(agent, runId, tools) {
  const events = [];
  const abortController = new AbortController();
  const timer = setTimeout(() => abortController.abort(new Error(`turn timed out after ${TURN_TIMEOUT_MS} ms`)),
    TURN_TIMEOUT_MS);
  let error = null;
  let newMessages = [];
  try {
    const result = await agent.runAgent({ runId, tools, abortController },
      { onEvent: ({ event }) => { events.push(event); } });
    newMessages = result.newMessages;
  } catch (exc) {
    error = exc instanceof Error ? `${exc.name}: ${exc.message}` : String(exc);
  } finally {
    clearTimeout(timer);
  }
  return { error, events, newMessages };
}

async function runLoop(spec) {
  captured.length = 0;
  const agent = new HttpAgent({ url: spec.url, headers: spec.headers ?? {}, threadId: spec.threadId,
    initialMessages: spec.messages });
  const first = await turn(agent, spec.runIds[0], spec.tools);
  const afterTurn1 = JSON.parse(JSON.stringify(agent.messages));
  // The frontend runs each tool the model called and appends its result.
  for (const message of first.newMessages) {
    for (const call of message.toolCalls ?? []) {
      agent.addMessage({ id: `result-${call.id}`, role: "tool", toolCallId: call.id, content: spec.toolResult });
    }
  }
  const second = await turn(agent, spec.runIds[1], spec.tools);
  return {
    id: spec.id, clientVersion, turns: [first, second], afterTurn1, messages: agent.messages,
    console: [...captured],
  };
}

const [loopsPath, resultsPath] = process.argv.slice(2);
const loops = JSON.parse(readFileSync(loopsPath, "utf8"));
const results = [];
for (const spec of loops) {
  results.push(await runLoop(spec));
}
writeFileSync(resultsPath, JSON.stringify(results));

// Runs the official AG-UI client (@ag-ui/client HttpAgent) against the proxy, one case after another.
//
//   node run_client.mjs cases.json results.json [client-package]
//
// cases.json: [{id, url, headers?, threadId, runId, messages, tools?, context?, resume?}, ...]
// results.json: one entry per case, in order:
//   {id, clientVersion, threadId, runId, error, events, newMessages, messages, console}
// - error: what runAgent threw, or null (harness.mjs);
// - events: every event the client accepted, as its subscribers saw them (after its own schema
//   validation, which strips and warns about anything it does not know);
// - newMessages / messages: what the client assembled from the stream;
// - console: everything written to the console during the case.
//
// Driven by tests/conformance/test_official_client.py; all cases in one process, because
// starting Node and loading the client is most of the cost of a case.

import { HttpAgent, main, run } from "./harness.mjs";

await main(async (spec) => {
  const agent = new HttpAgent({
    url: spec.url,
    headers: spec.headers ?? {},
    threadId: spec.threadId,
    initialMessages: spec.messages ?? [],
  });
  const parameters = { runId: spec.runId, tools: spec.tools ?? [], context: spec.context ?? [] };
  if (spec.resume) parameters.resume = spec.resume;  // answers to the interrupts of the run before
  const result = await run(agent, parameters);
  return { threadId: spec.threadId, runId: spec.runId, ...result, messages: agent.messages };
});

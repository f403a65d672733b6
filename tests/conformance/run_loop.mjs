// A tool loop driven by the official AG-UI client, as a frontend drives it, one loop after another.
//
//   node run_loop.mjs loops.json results.json [client-package]
//
// loops.json: [{id, url, headers?, threadId, runIds: [turn1, turn2], messages, tools, toolResult, followUp?}, ...]
// For each loop: HttpAgent runs turn 1; for every tool call the run made, the loop appends a tool
// message answering it (content: toolResult), with addMessage as a frontend does; the agent runs
// turn 2 with everything it holds, including what it stored from turn 1 (REASONING_ENCRYPTED_VALUE
// on tool calls and reasoning messages).  With followUp, turn 1 ended in an answer after the
// provider's own tools: the loop appends that user message instead.
// results.json: per loop {id, clientVersion, turns: [{error, events, newMessages}] x 2, afterTurn1,
// messages, console}.  Driven by tests/conformance/test_multi_turn.py.

import { HttpAgent, main, run } from "./harness.mjs";

await main(async (spec) => {
  const agent = new HttpAgent({ url: spec.url, headers: spec.headers ?? {}, threadId: spec.threadId,
    initialMessages: spec.messages });
  const first = await run(agent, { runId: spec.runIds[0], tools: spec.tools });
  const afterTurn1 = JSON.parse(JSON.stringify(agent.messages));
  if (spec.followUp) {
    // The answer came after the provider's own tools: the user asks again.
    agent.addMessage({ id: "u2", role: "user", content: spec.followUp });
  } else {
    // The frontend runs each tool the model called and appends its result.
    for (const message of first.newMessages ?? []) {
      for (const call of message.toolCalls ?? []) {
        agent.addMessage({ id: `result-${call.id}`, role: "tool", toolCallId: call.id, content: spec.toolResult });
      }
    }
  }
  const second = await run(agent, { runId: spec.runIds[1], tools: spec.tools });
  return { turns: [first, second], afterTurn1, messages: agent.messages };
});

/* agui-proxy playground, part 1: rendering.  How one run looks as its AG-UI events arrive (the
 * assistant's bubble: text, reasoning, tool calls, the summary or the error) and the raw event log.
 * Loaded before playground.js, which owns the conversation, the request and the stream.
 */
(() => {
  "use strict";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const ms = (t) => `${Math.round(t)} ms`;

  // Scrolling reads scrollHeight, which forces a layout: done once per animation frame, never once per
  // event, so a burst of thousands of events (a fast model, a replay) costs one layout, not thousands.
  const toScroll = new Set();
  function scrollDown(node) {
    if (!node) return;
    if (toScroll.size === 0) {
      requestAnimationFrame(() => {
        for (const n of toScroll) n.scrollTop = n.scrollHeight;
        toScroll.clear();
      });
    }
    toScroll.add(node);
  }

  // ---- one run: the assistant's bubble, filled in as events arrive ----

  class RunView {
    constructor(transcript) {
      this.transcript = transcript;
      this.bubble = el("div", "turn assistant running");
      this.bubble.append(el("div", "who", "assistant"));
      transcript.append(this.bubble);
      this.texts = new Map();
      this.calls = new Map();
      this.reasoning = new Map();
      this.turn = { id: null, role: "assistant", content: "", toolCalls: [] };
      this.ended = null;  // "finished" | "error" once the run is over
      this.firstOutput = null;
    }

    handle(event, t) {
      const handler = RunView.handlers[event.type];
      if (handler) handler.call(this, event, t);  // other event types are only logged
      scrollDown(this.transcript);
    }

    output(t) { if (this.firstOutput === null) this.firstOutput = t; }

    textNode(id) {
      if (!this.texts.has(id)) {
        const node = el("div", "text");
        node.dataset.messageId = id;
        this.bubble.append(node);
        this.texts.set(id, node);
      }
      return this.texts.get(id);
    }

    card(id, name) {
      if (!this.calls.has(id)) {
        const card = el("div", "tool-call");
        card.dataset.toolCallId = id;
        const head = el("div", "tool-head");
        const badge = el("span", "badge", "arguments streaming…");
        head.append(el("span", "tool-label", "tool call"), el("span", "tool-name", name || "?"),
                    el("code", "tool-id", id), badge);
        const args = el("pre", "tool-args");
        card.append(head, args);
        this.bubble.append(card);
        const call = { id, name: name || "", arguments: "", card, args, badge };
        this.calls.set(id, call);
        this.turn.toolCalls.push(call);
      }
      return this.calls.get(id);
    }

    reasoningBlock(id) {
      if (!this.reasoning.has(id)) {
        const block = el("details", "reasoning");
        block.open = true;
        const summary = el("summary", "", "Reasoning ");
        const badge = el("span", "badge", "thinking…");
        summary.append(badge);
        const text = el("div", "reasoning-text");
        block.append(summary, text);
        this.bubble.append(block);
        this.reasoning.set(id, { block, text, badge });
      }
      return this.reasoning.get(id);
    }

    fail(title, message) {
      const box = el("div", "run-error");
      box.setAttribute("role", "alert");
      box.append(el("strong", "", title), el("span", "error-message", message));
      this.bubble.append(box);
      this.bubble.classList.add("failed");
      this.ended = "error";
    }
  }

  RunView.handlers = {
    RUN_STARTED(e) { this.bubble.dataset.runId = e.runId; },
    TEXT_MESSAGE_START(e) { this.textNode(e.messageId); if (!this.turn.id) this.turn.id = e.messageId; },
    TEXT_MESSAGE_CONTENT(e, t) {
      this.output(t);
      this.textNode(e.messageId).append(e.delta);  // a new text node per delta: no re-render of the whole text
      this.turn.content += e.delta;
    },
    TEXT_MESSAGE_END(e) { this.textNode(e.messageId).classList.add("complete"); },
    TOOL_CALL_START(e, t) { this.output(t); this.card(e.toolCallId, e.toolCallName); },
    TOOL_CALL_ARGS(e) {
      const call = this.card(e.toolCallId);
      call.arguments += e.delta;
      call.args.append(e.delta);
    },
    TOOL_CALL_END(e) {
      const call = this.card(e.toolCallId);
      if (!call.arguments.trim()) call.arguments = "{}";
      try {
        call.args.textContent = JSON.stringify(JSON.parse(call.arguments), null, 2);
        call.badge.textContent = "arguments complete";
        call.card.classList.add("complete");
      } catch {
        call.args.textContent = call.arguments;
        call.badge.textContent = "arguments are not valid JSON";
        call.card.classList.add("invalid");
      }
    },
    REASONING_START(e, t) { this.output(t); this.reasoningBlock(e.messageId); },
    REASONING_MESSAGE_CONTENT(e, t) { this.output(t); this.reasoningBlock(e.messageId).text.append(e.delta); },
    REASONING_END(e) {
      const block = this.reasoningBlock(e.messageId);
      block.badge.textContent = "done";
      block.block.classList.add("complete");
    },
    RUN_FINISHED(e, t) {
      const summary = el("div", "run-summary");
      const result = e.result || {};
      const stop = el("span", "stop-reason", `stop: ${result.stopReason || "not given"}`);
      if (result.providerStopReason) stop.textContent += ` (provider: ${result.providerStopReason})`;
      summary.append(stop);
      for (const usage of e.usage || []) {
        const parts = [["inputTokens", "in"], ["outputTokens", "out"], ["totalTokens", "total"],
                       ["reasoningTokens", "reasoning"], ["cachedInputTokens", "cached"]]
          .filter(([key]) => usage[key] !== undefined).map(([key, label]) => `${usage[key]} ${label}`);
        const who = [usage.provider, usage.model].filter(Boolean).join(" ");
        summary.append(el("span", "usage", `${who ? who + ": " : ""}${parts.join(", ")}`));
      }
      if (this.firstOutput !== null) summary.append(el("span", "timing", `first output at ${ms(this.firstOutput)}`));
      summary.append(el("span", "timing", `finished at ${ms(t)}`));
      this.bubble.append(summary);
      this.ended = this.ended || "finished";  // a bad frame earlier still makes the run a failure
    },
    RUN_ERROR(e) { this.fail(`RUN_ERROR${e.code ? " " + e.code : ""}`, e.message); },
  };

  // ---- the raw event log ----

  class EventLog {
    constructor(body) { this.body = body; body.replaceChildren(); }

    add(t, type, payload, bad) {
      const row = el("tr", bad ? "bad" : "");
      row.dataset.type = type;
      row.dataset.t = t.toFixed(1);
      row.append(el("td", "t", String(Math.round(t))), el("td", "type", type), el("td", "payload", payload));
      this.body.append(row);
      scrollDown(this.body.closest(".log-scroll"));
    }
  }

  // One SSE frame: "data:" lines joined by newlines; "event:" lines and ":" comments carry no event.
  function readFrame(frame, t, view, log) {
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
    if (!data.length) return;
    const payload = data.join("\n");
    if (payload === "[DONE]") { log.add(t, "[DONE]", payload); return; }
    let event;
    try { event = JSON.parse(payload); } catch {
      log.add(t, "not JSON", payload, true);
      view.fail("Bad frame", "the proxy sent a data: line that is not JSON");
      return;
    }
    log.add(t, String(event.type), payload);
    view.handle(event, t);
  }

  window.PlaygroundView = { el, ms, scrollDown, RunView, EventLog, readFrame };
})();

/* agui-proxy playground: chat through a route and watch the AG-UI events arrive.
 *
 * No framework and no build step; nothing is fetched but the route itself.  The response is read
 * the way a BranderUX or AG-UI frontend reads it: fetch(), the body's ReadableStream reader, a
 * TextDecoder in streaming mode, frames split on blank lines (PROTOCOL.md section 2: LF-only
 * "data: <json>\n\n" frames; BranderUX bodies end with "data: [DONE]", RunAgentInput ones do not).
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const { el, ms, scrollDown, RunView, EventLog, readFrame } = window.PlaygroundView;

  // crypto.randomUUID() exists only in secure contexts; the page may be served over plain http.
  function newId(prefix) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return prefix + "_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- what the proxy serving this page said about itself (absent when served elsewhere) ----

  function serverSettings() {
    const block = $("playground-config");
    if (block) {
      try { return JSON.parse(block.textContent); } catch { /* fall through: a page without routes */ }
    }
    return { routes: [], auth: false };
  }

  const server = serverSettings();
  const defaultBase = location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:8000";

  // ---- the conversation: neutral turns, written out as either body on each send ----

  // A turn is {id, role: "user" | "assistant" | "tool", content, toolCalls?: [{id, name, arguments}],
  // toolCallId?, name?}.  Reasoning is shown, never sent back.
  const conversation = { threadId: newId("thread"), systemId: newId("msg"), turns: [] };
  let pendingCalls = [];  // the last run's tool calls, each waiting for a result typed by hand
  let current = null;     // the run in progress: {controller}

  function readTools() {
    const text = $("tools").value.trim();
    if (!text) return [];
    let parsed;
    try { parsed = JSON.parse(text); } catch (e) { throw new Error(`Tools: not valid JSON (${e.message})`); }
    if (!Array.isArray(parsed)) throw new Error("Tools: expected a JSON list of {name, description, parameters}");
    return parsed.map((tool, i) => {
      // Also take OpenAI's {type: "function", function: {...}} and Anthropic's input_schema as pasted.
      const fn = tool && tool.type === "function" && tool.function ? tool.function : tool;
      if (!fn || typeof fn.name !== "string" || !fn.name) throw new Error(`Tools[${i}]: a tool needs a name`);
      const parameters = fn.parameters || fn.input_schema || { type: "object", properties: {} };
      return { name: fn.name, description: fn.description || "", parameters };
    });
  }

  function readSettings() {
    const baseUrl = $("base-url").value.trim() || defaultBase;
    try { new URL(baseUrl); } catch { throw new Error(`Base URL: ${JSON.stringify(baseUrl)} is not a URL`); }
    const route = $("route").value.trim();
    if (!route.startsWith("/")) throw new Error("Route: a path that starts with /, such as /api/agent");
    const maxTokens = Number($("max-tokens").value);
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error("Max tokens: a positive whole number");
    return {
      url: baseUrl.replace(/\/+$/, "") + route,
      token: $("token").value.trim(),
      format: document.querySelector('input[name="body-format"]:checked').value,
      system: $("system").value.trim(),
      tools: readTools(),
      maxTokens,
    };
  }

  const asToolCalls = (calls) =>
    calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));

  // BranderUX: {"params": {system?, messages, tools?: {openai, anthropic, gemini}, max_tokens}}, tool turns
  // in OpenAI's shape (tool_calls / tool_call_id), which the proxy converts for every provider.
  function branderuxBody(settings) {
    const messages = conversation.turns.map((turn) => {
      if (turn.role === "tool") return { role: "tool", tool_call_id: turn.toolCallId, name: turn.name, content: turn.content };
      const message = { role: turn.role, content: turn.content };
      if (turn.toolCalls && turn.toolCalls.length) message.tool_calls = asToolCalls(turn.toolCalls);
      return message;
    });
    const params = { messages, max_tokens: settings.maxTokens };
    if (settings.system) params.system = settings.system;
    if (settings.tools.length) {
      params.tools = {
        openai: settings.tools.map((t) => ({ type: "function", function: t })),
        anthropic: settings.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters })),
        gemini: settings.tools,
      };
    }
    return { params };
  }

  // AG-UI RunAgentInput: every message has an id; optional fields are left out, never null.
  function aguiBody(settings) {
    const messages = [];
    if (settings.system) messages.push({ id: conversation.systemId, role: "system", content: settings.system });
    for (const turn of conversation.turns) {
      if (turn.role === "tool") {
        messages.push({ id: turn.id, role: "tool", content: turn.content, toolCallId: turn.toolCallId });
        continue;
      }
      const message = { id: turn.id, role: turn.role };
      if (turn.content || turn.role === "user") message.content = turn.content;
      if (turn.toolCalls && turn.toolCalls.length) message.toolCalls = asToolCalls(turn.toolCalls);
      messages.push(message);
    }
    return { threadId: conversation.threadId, runId: newId("run"), messages, tools: settings.tools,
             context: [], state: {}, forwardedProps: {} };
  }

  // ---- the page around a run ----

  function setState(state, status) {
    document.body.dataset.state = state;
    $("status").textContent = status;
    $("send").disabled = state === "running";
    $("stop").disabled = state !== "running";
    if (state !== "running") $("drop").disabled = true;
  }

  function showFormError(message) { $("form-error").textContent = message; }


  function renderUser(turn) {
    const bubble = el("div", "turn user");
    bubble.append(el("div", "who", "you"), el("div", "text", turn.content));
    $("transcript").append(bubble);
    scrollDown($("transcript"));
  }

  async function errorText(response) {
    const text = await response.text();
    try {
      const error = JSON.parse(text).error;
      if (error && error.message) return `${error.type ? error.type + ": " : ""}${error.message}`;
    } catch { /* not the proxy's JSON error: show the text as it is */ }
    return text.slice(0, 500) || response.statusText;
  }

  async function stream(settings, view, log) {
    const body = settings.format === "agui" ? aguiBody(settings) : branderuxBody(settings);
    $("request-body").textContent = JSON.stringify(body, null, 2);
    const headers = { "content-type": "application/json", accept: "text/event-stream" };
    if (settings.token) headers.authorization = `Bearer ${settings.token}`;
    current = { controller: new AbortController() };
    setState("running", `POST ${settings.url}: waiting for the response`);
    const t0 = performance.now();
    let response;
    try {
      response = await fetch(settings.url, { method: "POST", headers, body: JSON.stringify(body),
                                             signal: current.controller.signal, cache: "no-store" });
    } catch (e) {
      const crossOrigin = new URL(settings.url).origin !== location.origin;
      view.fail("Request failed", `${e.message}${crossOrigin ? " (another origin: does the proxy allow this one with CORS?)" : ""}`);
      return;
    }
    if (!response.ok) { view.fail(`HTTP ${response.status}`, await errorText(response)); return; }
    const type = response.headers.get("content-type") || "";
    if (!type.startsWith("text/event-stream")) {
      view.fail("Not an event stream", `the response is ${type || "untyped"}: ${await errorText(response)}`);
      return;
    }
    setState("running", `POST ${settings.url}: streaming (HTTP ${response.status} at ${ms(performance.now() - t0)})`);
    // A resumable route names the run (X-Run-Id) and numbers its frames (id: lines): the page can
    // come back for the rest when the connection drops (README "Resumable runs").
    const run = { url: settings.url, runId: response.headers.get("x-run-id"), lastId: 0, headers };
    current.run = run;
    $("drop").disabled = !run.runId;
    let buffer;
    for (let reattaches = 0; ; reattaches++) {
      try {
        buffer = await readFrames(response, t0, view, log, run);
        break;
      } catch (e) {
        if (current.stopped || !run.runId || reattaches >= MAX_REATTACHES) {
          view.fail(current.stopped ? "Stopped" : "Connection lost", current.stopped ? "you stopped the run" : e.message);
          return;
        }
        response = await reattach(run, view);
        if (!response) return;
      }
    }
    if (buffer.trim()) view.fail("Cut off", `the stream ended in the middle of a frame: ${buffer.slice(0, 200)}`);
    else if (!view.ended) view.fail("Cut off", "the stream ended without RUN_FINISHED or RUN_ERROR");
  }

  const MAX_REATTACHES = 5;

  // Reads a response's frames into the view until its end; the last id seen is kept in run.lastId.
  // Throws when the connection is lost (or dropped with the button).
  async function readFrames(response, t0, view, log, run) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      const t = performance.now() - t0;  // when these bytes reached the page
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        let frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const id = /^id: (\d+)\n/.exec(frame);
        if (id) { run.lastId = Number(id[1]); frame = frame.slice(id[0].length); }
        readFrame(frame, t, view, log);
      }
    }
    return buffer + decoder.decode();
  }

  // GET <route>/runs/<runId> with Last-Event-ID: the frames after the last one seen, then the rest live.
  async function reattach(run, view) {
    current.controller = new AbortController();
    const url = `${run.url}/runs/${encodeURIComponent(run.runId)}`;
    setState("running", `connection lost after event ${run.lastId}: reattaching to ${url}`);
    let response;
    try {
      response = await fetch(url, { headers: { ...run.headers, "last-event-id": String(run.lastId) },
                                    signal: current.controller.signal, cache: "no-store" });
    } catch (e) {
      view.fail("Reattach failed", e.message);
      return null;
    }
    if (!response.ok) { view.fail(`Reattach: HTTP ${response.status}`, await errorText(response)); return null; }
    document.body.dataset.reattached = String(Number(document.body.dataset.reattached || 0) + 1);
    $("resume-info").textContent = `reattached after event ${run.lastId}`;
    setState("running", `reattached to ${url} after event ${run.lastId}: streaming`);
    return response;
  }

  function offerToolResults(view) {
    pendingCalls = view.turn.toolCalls;
    for (const call of pendingCalls) {
      const label = el("label", "tool-result-label", `result of ${call.name}`);
      call.input = el("textarea", "tool-result");
      call.input.rows = 2;
      call.input.placeholder = "type what the tool returned, then Send";
      label.append(call.input);
      call.card.append(label);
    }
    $("send").textContent = pendingCalls.length ? "Send tool results" : "Send";
  }

  async function send() {
    if (current) return;
    showFormError("");
    let settings;
    try { settings = readSettings(); } catch (e) { showFormError(e.message); return; }
    const text = $("message").value;
    const missing = pendingCalls.filter((call) => !call.input.value.trim()).map((call) => call.name);
    if (missing.length) { showFormError(`Type a result for ${missing.join(", ")} first.`); return; }
    if (!pendingCalls.length && !text.trim()) { showFormError("Type a message first."); return; }
    // Tool results first (one tool message per call, each naming its call), then the person's message.
    for (const call of pendingCalls) {
      conversation.turns.push({ id: newId("msg"), role: "tool", toolCallId: call.id, name: call.name,
                                content: call.input.value });
      call.input.readOnly = true;
      call.card.classList.add("answered");
    }
    pendingCalls = [];
    $("send").textContent = "Send";
    if (text.trim()) {
      const turn = { id: newId("msg"), role: "user", content: text };
      conversation.turns.push(turn);
      renderUser(turn);
      $("message").value = "";
    }
    const view = new RunView($("transcript"));
    const log = new EventLog($("log-body"));
    try {
      await stream(settings, view, log);
    } finally {
      current = null;
      view.bubble.classList.remove("running");
    }
    if (view.ended === "finished") {
      // The reply joins the conversation; its tool calls wait for results typed by hand.
      const turn = view.turn;
      conversation.turns.push({ id: turn.id || newId("msg"), role: "assistant", content: turn.content,
                                toolCalls: turn.toolCalls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })) });
      offerToolResults(view);
      setState("finished", pendingCalls.length ? "finished: the assistant called tools; type their results"
                                               : "finished");
    } else {
      view.bubble.append(el("p", "hint", "This reply is not kept in the conversation."));
      setState("error", "the run failed (see the red box)");
    }
  }

  function newConversation() {
    if (current) current.controller.abort();
    conversation.threadId = newId("thread");
    conversation.turns = [];
    pendingCalls = [];
    $("transcript").replaceChildren();
    $("log-body").replaceChildren();
    $("resume-info").textContent = "";
    $("send").textContent = "Send";
    showFormError("");
    setState("idle", "ready");
  }

  // ---- wiring ----

  $("base-url").value = defaultBase;
  for (const route of server.routes) {
    const option = el("option");
    option.value = route.path;
    option.label = route.resumable ? `${route.provider}, resumable` : route.provider;
    $("route-list").append(option);
  }
  $("route").value = server.routes.length ? server.routes[0].path : "/api/agent";
  $("route-info").textContent = server.routes.length
    ? `this proxy serves ${server.routes.map((r) => `${r.path} (${r.provider})`).join(", ")}`
    : "type the path of a route of the proxy at the base URL";
  if (server.auth) $("token").placeholder = "required by this proxy";
  $("settings").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
  });
  $("stop").addEventListener("click", () => { if (current) { current.stopped = true; current.controller.abort(); } });
  // Drop connection: what a phone changing network does to the run; the page reattaches.
  $("drop").addEventListener("click", () => { if (current) current.controller.abort(); });
  $("clear").addEventListener("click", newConversation);
  setState("idle", "ready");
})();

// A client of agui-proxy's resumable runs (docs/resumable-runs.md), for any browser or Node 18+.
// Copy it into a frontend as it is; tests/conformance/test_resumable_client.py runs this file.

// POST a run to an agui-proxy route and read it to its end, reattaching after a network error.
export async function resumableRun(url, body, { headers = {}, onData, retries = 5, signal } = {}) {
  let response = await fetch(url, {
    method: "POST", headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body), signal,
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const runId = response.headers.get("x-run-id"); // absent: the route is not resumable
  let lastId = 0;
  for (let attempt = 0; ; ) {
    try {
      if (response === null) {
        response = await fetch(`${url}/runs/${encodeURIComponent(runId)}`,
                               { headers: { ...headers, "last-event-id": String(lastId) }, signal });
        if (!response.ok) throw Object.assign(new Error(`reattach: HTTP ${response.status}`), { final: true });
      }
      let ended = false; // the run's end seen: RUN_FINISHED or RUN_ERROR
      await readFrames(response, (id, data) => {
        if (id !== null) lastId = id;
        if (/^\{"type":"RUN_(FINISHED|ERROR)"/.test(data)) ended = true;
        onData(data);
      });
      if (ended) return;
      throw new Error("the stream ended before the run did"); // a drain, a replica gone: reattach
    } catch (error) {
      if (!runId || error.final || signal?.aborted || ++attempt > retries) throw error;
      response = null;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 8000)));
    }
  }
}

// The SSE frames of a response: onFrame(id or null, data) for each; throws if the connection breaks.
async function readFrames(response, onFrame) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = Number(line.slice(4));
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onFrame(id, data.join("\n"));
    }
  }
}

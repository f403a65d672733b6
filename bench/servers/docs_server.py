"""The server a user would copy from BranderUX's "Building a Server AG-UI Endpoint" page.

Its Python / FastAPI section: the OpenAI SDK (sync client) and the page's ``openai_to_agui``
translator, "drop it into a FastAPI route".  Written for the bench from that description, as a
user would paste it: the only additions are the ``FastAPI()`` app and the route decorator the
page leaves to the reader.  The SDK reaches the fake upstream through its own environment
variables (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), as a user would point it elsewhere.

    uvicorn bench.servers.docs_server:app --host 127.0.0.1 --port 8002
"""

import json
import time

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from openai import OpenAI

app = FastAPI()
client = OpenAI()


# Mirrors the SDK's OpenAI -> AG-UI translation (openaiStream)
def openai_to_agui(stream):  # type: ignore[no-untyped-def]
    run_id = f"run-{int(time.time() * 1000)}"
    yield {"type": "RUN_STARTED", "runId": run_id}
    text_open = False
    tool_ids = {}  # tool_call index -> toolCallId
    for chunk in stream:
        choice = chunk.choices[0]
        delta = choice.delta
        for tc in (delta.tool_calls or []):
            if tc.id:  # first fragment of a tool call carries id + name
                tool_ids[tc.index] = tc.id
                yield {"type": "TOOL_CALL_START", "toolCallId": tc.id, "toolCallName": tc.function.name}
            if tc.function and tc.function.arguments:
                yield {"type": "TOOL_CALL_ARGS", "toolCallId": tool_ids[tc.index], "delta": tc.function.arguments}
        if delta.content:
            if not text_open:
                text_open = True
                yield {"type": "TEXT_MESSAGE_START", "role": "assistant"}
            yield {"type": "TEXT_MESSAGE_CONTENT", "delta": delta.content}
        if choice.finish_reason == "tool_calls":
            for tid in tool_ids.values():
                yield {"type": "TOOL_CALL_END", "toolCallId": tid}
        elif choice.finish_reason == "stop" and text_open:
            yield {"type": "TEXT_MESSAGE_END"}
            text_open = False
    yield {"type": "RUN_FINISHED", "runId": run_id}


@app.post("/api/agent")
async def agent(request: Request):  # type: ignore[no-untyped-def]
    params = (await request.json())["params"]  # nested, not spread
    messages = ([{"role": "system", "content": params["system"]}] if params.get("system") else []) + params["messages"]
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=messages,
        tools=(params.get("tools") or {}).get("openai"),
        max_tokens=params.get("max_tokens", 4000),
        stream=True,
    )

    def sse():  # type: ignore[no-untyped-def]
        for event in openai_to_agui(stream):
            yield "data: " + json.dumps(event) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream")

"""The other contenders, each served by uvicorn as its own process next to agui-proxy."""

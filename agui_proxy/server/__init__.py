"""The I/O shell around the core: the ASGI app and middleware, and the upstream client."""

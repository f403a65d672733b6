"""The I/O shell around the core: one pure ASGI piece per concern, composed in ``stack.py``, the
route handler and the one place that talks to an upstream (``upstream.py``)."""

"""The proxy as an ASGI app: :func:`~.proxy.create_app` and :class:`~.proxy.AGUIProxyMiddleware`,
the route handler, the operator's endpoints, the playground page, and ``stack.py``, the one place
the pieces of ``middleware/``, ``runs/`` and ``upstream/`` (and tracing, when on) are composed."""

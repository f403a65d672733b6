"""The ASGI pieces around every route, one per module (as starlette's ``middleware/``): the
request context, accounting (metrics and the access log), CORS, methods, auth and the quota guard,
and the one JSON writer they answer through.  ``app/stack.py`` composes them."""

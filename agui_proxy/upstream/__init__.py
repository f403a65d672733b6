"""Everything between a run and its provider: the chain a route may use (``chain.py``), the
tries with retries and fallbacks (``retries.py``), the one call (``call.py``) with its deadlines
and inflating, the shared HTTP client (``client.py``) and the lean transport behind httpx's API
(``transport/``)."""

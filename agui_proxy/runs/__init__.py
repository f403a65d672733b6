"""A run's life on the client's side: its response from the 200 to the terminator
(``stream.py``), keep-alive pings, admission, and resumable runs (the journal a run writes, the
readers that follow it, reattach)."""

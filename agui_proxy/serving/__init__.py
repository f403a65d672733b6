"""The process: the ``agui-proxy`` command (``cli.py``, ``check.py``, ``summary.py``) and
serving the app under uvicorn (``serve.py``, with the header timeout and log redaction)."""

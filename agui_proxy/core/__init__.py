"""The sans-I/O core: SSE decoding, the neutral conversation, runs, and the AG-UI encoder.

Nothing here does I/O or imports the web stack; bytes and values in, values and bytes out.
"""

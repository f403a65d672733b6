"""Server-side tools: tools the proxy itself runs during a run (for example through MCP servers),
their calls and results fed back to the provider between turns.  Nothing lives here yet; this is
the room they go in, beside ``upstream/`` (what a run asks a provider) and ``runs/``."""

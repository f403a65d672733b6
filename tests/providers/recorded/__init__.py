"""Per provider, the plain reading of its recorded streams and the checks of what the translator
made of them; tests/providers/test_recordings.py runs them as one table over (provider, recording)."""

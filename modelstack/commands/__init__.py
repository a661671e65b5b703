"""One module per command; each exposes a typed function that returns an exit code."""

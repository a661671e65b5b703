"""The `local` target: revisions as containers on the local Docker engine behind a router."""

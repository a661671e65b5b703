"""Smoke tests: turning manifest cases into requests, running them, comparing the answers."""

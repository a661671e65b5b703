"""Artifact Registry logins: an OAuth access token from Application Default Credentials."""

from __future__ import annotations

import re

from modelstack.errors import MissingDependencyError, RegistryError

__all__ = ["GOOGLE_HOST", "google_host_login", "google_login"]

GOOGLE_HOST = re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|(?:[a-z]+\.)?gcr\.io)$")


def google_host_login(host: str) -> dict[str, str] | None:
    """Credentials for `host` when it is a Google registry; None for any other host."""
    return google_login() if GOOGLE_HOST.match(host) else None


def google_login() -> dict[str, str]:
    """Credentials for Artifact Registry (and gcr.io) from the environment's Google login."""
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests
    except ImportError:
        raise MissingDependencyError("pushing to Artifact Registry", "gcp") from None
    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        credentials.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.GoogleAuthError as exc:
        raise RegistryError(
            f"cannot get a Google access token for Artifact Registry: {exc}. Run "
            "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
        ) from None
    return {"username": "oauth2accesstoken", "password": str(credentials.token)}

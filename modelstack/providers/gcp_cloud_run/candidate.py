"""Reaching a Cloud Run revision through its tag URL with an identity token (google-auth,
imported only when used)."""

from __future__ import annotations

from modelstack.errors import MissingDependencyError
from modelstack.smoke.clients import HttpClient

__all__ = ["cloud_run_client"]


def cloud_run_client(url: str, model_name: str) -> HttpClient:
    """An HTTP client for a (tagged) Cloud Run URL, authenticated with an identity token."""
    try:
        import google.auth.transport.requests
        import google.oauth2.id_token
    except ImportError:
        raise MissingDependencyError("calling Cloud Run", "gcp") from None
    token = google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), url)
    return HttpClient(url, model_name, headers={"Authorization": f"Bearer {token}"})

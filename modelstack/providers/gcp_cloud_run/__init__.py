"""The gcp-cloud-run provider (light at import: google-auth and pulumi_gcp load on use)."""

from __future__ import annotations

from modelstack.providers.gcp_cloud_run.provider import CloudRunProvider

__all__ = ["CloudRunProvider"]

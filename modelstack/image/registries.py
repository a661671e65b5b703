"""Where an image is pushed, and the credentials for that registry.

* `--registry URL` (any registry, e.g. `127.0.0.1:5000` or `ghcr.io/team`): the image goes to
  `URL/<model name>`. Credentials: ECR and Artifact Registry hosts get a fresh token (below);
  any other host uses `MODELSTACK_REGISTRY_USERNAME` / `MODELSTACK_REGISTRY_PASSWORD` when set,
  else the engine's own login (`docker login`).
* no `--registry`: the target's provider chooses (`Provider.destination`): for `aws-lambda`
  the target region's ECR registry (account from the authorization token), repository
  `<model>-<target>` as `modelstack up` creates it; for `gcp-cloud-run`
  `<region>-docker.pkg.dev/<project>/<model>-<target>`; a `local` target has none.

The cloud logins live in their providers' packages (`registry.py`); boto3 and google-auth are
imported only when one of their registries is used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Final

from modelstack.errors import UsageError
from modelstack.manifest.model import Manifest, Target
from modelstack.providers import PROVIDERS, provider_for

__all__ = [
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "Destination",
    "destination_for",
    "registry_auth",
]

USERNAME_ENV: Final = "MODELSTACK_REGISTRY_USERNAME"
PASSWORD_ENV: Final = "MODELSTACK_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Destination:
    """A repository to push to (`host[/path]/name`) and the credentials for its registry."""

    repository: str
    auth: dict[str, str] | None = field(default=None, repr=False)  # never print secrets

    @property
    def registry(self) -> str:
        return self.repository.split("/", 1)[0]


def destination_for(
    manifest: Manifest, target_name: str, target: Target, registry: str | None
) -> Destination:
    """Where `--push` sends the image of `target`."""
    if registry:
        prefix = re.sub(r"^[a-z]+://", "", registry.strip()).rstrip("/")
        if not prefix:
            raise UsageError(f"--registry {registry!r} names no registry")
        repository = f"{prefix}/{_repository_part(manifest.metadata.name)}"
        return Destination(repository, registry_auth(prefix.split("/", 1)[0]))
    return provider_for(target).destination(manifest, target_name, target)


def registry_auth(host: str) -> dict[str, str] | None:
    """Credentials for `host`: a cloud token, the environment's, or None (the engine's own)."""
    for provider in PROVIDERS.values():
        token = provider.registry_login(host)
        if token is not None:
            return token
    username = os.environ.get(USERNAME_ENV)
    password = os.environ.get(PASSWORD_ENV)
    if username is None and password is None:
        return None
    if not username or password is None:
        raise UsageError(f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
    return {"username": username, "password": password}


def _repository_part(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "model"

"""Where an image is pushed, and the credentials for that registry.

* `--registry URL` (any registry, e.g. `127.0.0.1:5000` or `ghcr.io/team`): the image goes to
  `URL/<model name>`. Credentials: ECR and Artifact Registry hosts get a fresh token (below);
  any other host uses `MODELSTACK_REGISTRY_USERNAME` / `MODELSTACK_REGISTRY_PASSWORD` when set,
  else the engine's own login (`docker login`).
* no `--registry`, `aws-lambda` target: the target region's ECR registry (account from the
  authorization token), repository `<model>-<target>` as `modelstack up` creates it.
* no `--registry`, `gcp-cloud-run` target: `<region>-docker.pkg.dev/<project>/<model>-<target>`.

boto3 and google-auth are imported only when one of their registries is used.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from typing import Final

from modelstack.errors import MissingDependencyError, RegistryError, UsageError
from modelstack.manifest.model import AwsLambdaTarget, CloudRunTarget, Manifest, Target
from modelstack.pulumi.naming import base_name, fit

__all__ = [
    "PASSWORD_ENV",
    "USERNAME_ENV",
    "Destination",
    "destination_for",
    "registry_auth",
]

USERNAME_ENV: Final = "MODELSTACK_REGISTRY_USERNAME"
PASSWORD_ENV: Final = "MODELSTACK_REGISTRY_PASSWORD"

_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_GOOGLE_HOST = re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|(?:[a-z]+\.)?gcr\.io)$")


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
    base = base_name(manifest, target_name)
    if isinstance(target, AwsLambdaTarget):
        auth, host = _ecr_login(target.region)
        return Destination(f"{host}/{base}", auth)
    if isinstance(target, CloudRunTarget):
        host = f"{target.region}-docker.pkg.dev"
        return Destination(f"{host}/{target.project}/{fit(base, 63)}/{base}", _google_login())
    raise UsageError(
        f"target '{target_name}' is local: there is no registry to push to by default; "
        "give one with --registry URL (e.g. --registry 127.0.0.1:5000)"
    )


def registry_auth(host: str) -> dict[str, str] | None:
    """Credentials for `host`: a cloud token, the environment's, or None (the engine's own)."""
    ecr = _ECR_HOST.match(host)
    if ecr:
        auth, _ = _ecr_login(ecr.group(2))
        return auth
    if _GOOGLE_HOST.match(host):
        return _google_login()
    username = os.environ.get(USERNAME_ENV)
    password = os.environ.get(PASSWORD_ENV)
    if username is None and password is None:
        return None
    if not username or password is None:
        raise UsageError(f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
    return {"username": username, "password": password}


def _repository_part(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "model"


def _ecr_login(region: str) -> tuple[dict[str, str], str]:
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise MissingDependencyError("pushing to Amazon ECR", "aws") from None
    try:
        data = boto3.client("ecr", region_name=region).get_authorization_token()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise RegistryError(
            f"cannot get an ECR login token in {region}: {exc}. Check the AWS credentials "
            "(AWS_PROFILE, AWS_ACCESS_KEY_ID...) and the ecr:GetAuthorizationToken permission"
        ) from None
    entry = data["authorizationData"][0]
    username, _, password = base64.b64decode(entry["authorizationToken"]).decode().partition(":")
    host = re.sub(r"^https?://", "", entry["proxyEndpoint"]).rstrip("/")
    return {"username": username, "password": password}, host


def _google_login() -> dict[str, str]:
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

"""Amazon ECR logins: a fresh authorization token for a region's registry (boto3 on use)."""

from __future__ import annotations

import base64
import re

from modelstack.errors import MissingDependencyError, RegistryError

__all__ = ["ECR_HOST", "ecr_host_login", "ecr_login"]

ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


def ecr_host_login(host: str) -> dict[str, str] | None:
    """Credentials for `host` when it is an ECR registry; None for any other host."""
    ecr = ECR_HOST.match(host)
    if ecr is None:
        return None
    auth, _ = ecr_login(ecr.group(2))
    return auth


def ecr_login(region: str) -> tuple[dict[str, str], str]:
    """(credentials, registry host) of the account's ECR registry in `region`."""
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

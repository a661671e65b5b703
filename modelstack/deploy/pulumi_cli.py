"""The Pulumi CLI that cloud deploys run: present, and recent enough.

The Cloud Run smoke gate runs in `after_create`/`after_update` resource hooks (the revision
must exist before it can be tested). Pulumi CLIs before 3.253 only log a warning when such a
hook fails, so a failing smoke test would not stop the deployment; the version is checked
before anything is built, not only whether `pulumi` is on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from modelstack.errors import InfrastructureError

__all__ = ["INSTALL_PULUMI", "MIN_PULUMI_CLI", "pulumi_cli_version", "require_pulumi_cli"]

MIN_PULUMI_CLI = (3, 253, 0)
"""The oldest Pulumi CLI whose failing `after_*` hooks fail the deployment."""

_MINIMUM = ".".join(map(str, MIN_PULUMI_CLI))
INSTALL_PULUMI = (
    f"The Pulumi CLI is needed (v{_MINIMUM} or later) to deploy cloud targets and is not "
    "installed. Install it with `curl -fsSL https://get.pulumi.com | sh` (or see "
    "https://www.pulumi.com/docs/install/), then run again. `modelstack plan` works without it."
)
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_TIMEOUT_S = 60


def pulumi_cli_version(executable: str) -> tuple[int, int, int]:
    """The version `pulumi version` prints, such as (3, 272, 0)."""
    try:
        result = subprocess.run(
            [executable, "version"], capture_output=True, text=True, timeout=_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfrastructureError(f"`{executable} version` did not run: {exc}") from None
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or match is None:
        said = (result.stdout + result.stderr).strip()[:200] or "nothing"
        raise InfrastructureError(
            f"`{executable} version` did not print a version (it said {said!r}); reinstall the "
            f"Pulumi CLI, v{_MINIMUM} or later"
        )
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def require_pulumi_cli() -> None:
    """InfrastructureError when the Pulumi CLI is missing or older than MIN_PULUMI_CLI."""
    executable = shutil.which("pulumi")
    if executable is None:
        raise InfrastructureError(INSTALL_PULUMI)
    version = pulumi_cli_version(executable)
    if version < MIN_PULUMI_CLI:
        found = ".".join(map(str, version))
        raise InfrastructureError(
            f"the Pulumi CLI at {executable} is v{found}; cloud deploys need v{_MINIMUM} or later "
            "(older CLIs only warn when the Cloud Run smoke gate fails, so a failing candidate "
            "would not stop the deployment). Upgrade it with `pulumi self-update` or "
            "`curl -fsSL https://get.pulumi.com | sh`"
        )

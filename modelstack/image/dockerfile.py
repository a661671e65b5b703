"""Rendering the Dockerfile and requirements of one image from the shipped templates.

Templates live in `templates/` and use `{{name}}` placeholders, which cannot clash with the
Dockerfile's own `${VAR}` syntax. Rendering fails loudly on a placeholder it does not know or
a value it was not given, so a template and this module cannot drift apart silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from modelstack.image.flavours import Flavour, is_aws_lambda_base
from modelstack.resources import data_path

__all__ = [
    "APP_DIR",
    "CA_FILE",
    "HANDLER",
    "MODEL_DIR",
    "RUNTIME_CONFIG",
    "DockerfileOptions",
    "render_dockerfile",
    "render_requirements",
    "render_template",
]

APP_DIR: Final = "app"
"""The runtime package's folder in the build context."""
MODEL_DIR: Final = "model"
"""The model's folder in the build context and under /opt/modelstack in the image."""
RUNTIME_CONFIG: Final = "runtime.json"
CA_FILE: Final = "ca.pem"
HANDLER: Final = "modelstack_runtime.lambda_handler.handler"
NON_ROOT_USER: Final = "10001:10001"

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_SITE: Final = "/opt/modelstack/site"
_APP: Final = "/opt/modelstack/app"


@dataclass(frozen=True)
class DockerfileOptions:
    """Everything a rendered Dockerfile depends on besides the template itself."""

    base_image: str
    labels: Mapping[str, str]
    ca_bundle: bool = False
    optimize: bool = False
    packed_files: tuple[str, ...] = ()
    """The packed model's files in the context (`model/...`): removed once optimised."""


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill `{{name}}` placeholders; ValueError on an unknown or unused name."""
    used: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"template placeholder {{{{{name}}}}} has no value")
        used.add(name)
        return values[name]

    text = _PLACEHOLDER.sub(fill, template)
    unused = sorted(set(values) - used)
    if unused:
        raise ValueError(f"values given for placeholders the template lacks: {unused}")
    return text


def render_dockerfile(flavour: Flavour, options: DockerfileOptions) -> str:
    """The Dockerfile of `flavour` with its base image, CA handling, layout and labels."""
    template = data_path("templates", flavour.template).read_text(encoding="utf-8")
    values = {
        "base_image": options.base_image,
        "ca_copy": (
            f"COPY {CA_FILE} /tmp/modelstack/{CA_FILE}"
            if options.ca_bundle
            else "# no CA bundle given: pip trusts the base image's certificates"
        ),
        "pip_env": f"PIP_CERT=/tmp/modelstack/{CA_FILE} " if options.ca_bundle else "",
        "optimize": _optimize_step(options.optimize, options.packed_files),
        "model_copy": (
            f"COPY --from=builder /opt/modelstack/{MODEL_DIR}/ /opt/modelstack/{MODEL_DIR}/"
            if options.optimize
            else f"COPY {MODEL_DIR}/ /opt/modelstack/{MODEL_DIR}/"
        ),
        "labels": _labels(options.labels),
    }
    if flavour.protocol == "lambda":
        values.update(_lambda_layout(options.base_image))
    return render_template(template, values)


def _lambda_layout(base_image: str) -> dict[str, str]:
    if is_aws_lambda_base(base_image):
        # The base's runtime puts $LAMBDA_TASK_ROOT (/var/task) on sys.path; Lambda may
        # replace PYTHONPATH, so nothing may depend on it there. Lambda runs as non-root.
        return {
            "python_path": "# code and dependencies live in /var/task, on the base's sys.path",
            "site_dir": "/var/task",
            "app_dir": "/var/task",
            "entrypoint": f'CMD ["{HANDLER}"]',
        }
    return {
        "python_path": f"ENV PYTHONPATH={_SITE}:{_APP}",
        "site_dir": _SITE,
        "app_dir": _APP,
        "entrypoint": "\n".join(
            [
                f"USER {NON_ROOT_USER}",
                'ENTRYPOINT ["python3", "-m", "modelstack_runtime.lambda_bootstrap"]',
                f'CMD ["{HANDLER}"]',
            ]
        ),
    }


def _optimize_step(optimize: bool, packed_files: tuple[str, ...]) -> str:
    if not optimize:
        return "# runtime.optimize_at_build is off: the packed model is copied as it is"
    script = (
        "from modelstack_runtime.config import load_config; "
        "from modelstack_runtime.model import optimize_model; "
        f"c = load_config('/opt/modelstack/{RUNTIME_CONFIG}'); "
        "optimize_model(c, c.optimized_model_path)"
    )
    # Only the optimised model reaches the final stage: the weights are in the image once.
    remove = " ".join(f"/opt/modelstack/{name}" for name in packed_files)
    cleanup = f" \\\n && rm -f {remove}" if remove else ""
    return "\n".join(
        [
            "# runtime.optimize_at_build: the graph-optimised model, by the pinned onnxruntime",
            f"COPY {MODEL_DIR}/ /opt/modelstack/{MODEL_DIR}/",
            f"COPY {RUNTIME_CONFIG} /opt/modelstack/{RUNTIME_CONFIG}",
            f'RUN PYTHONPATH={_SITE}:{_APP} python3 -c "{script}"{cleanup}',
        ]
    )


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    lines = [f"{key}={_quote(value)}" for key, value in sorted(labels.items())]
    return "LABEL " + " \\\n      ".join(lines)


def _quote(value: str) -> str:
    """A double-quoted Dockerfile word: no newlines, no `$` expansion."""
    flat = " ".join(value.split())
    escaped = flat.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def render_requirements(flavour: Flavour, base_image: str, extra: Sequence[str] = ()) -> str:
    """The flavour's pinned requirements plus the manifest's `build.python_packages`."""
    pinned = data_path("templates", flavour.requirements_for(base_image))
    text = pinned.read_text(encoding="utf-8")
    if extra:
        text = text.rstrip("\n") + "\n# build.python_packages from the manifest\n"
        text += "".join(f"{package}\n" for package in extra)
    return text

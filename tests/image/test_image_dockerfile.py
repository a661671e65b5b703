"""Rendering the three flavours' Dockerfiles: stages, layer order, labels, CA, user."""

from __future__ import annotations

import re

import pytest

from modelstack.image.dockerfile import (
    DockerfileOptions,
    render_dockerfile,
    render_requirements,
    render_template,
)
from modelstack.image.flavours import AWS_LAMBDA_BASE, FLAVOURS, flavour_for, is_aws_lambda_base
from modelstack.manifest.model import (
    AwsLambdaTarget,
    CloudRunTarget,
    GpuSpec,
    LocalTarget,
)

LABELS = {
    "org.opencontainers.image.title": "iris",
    "dev.modelstack.model.sha256": "ab" * 32,
    "org.opencontainers.image.description": 'say "hi" for $5 \\o/\nnext line',
}


def stages(dockerfile: str) -> list[str]:
    """The text of each build stage, split at FROM lines (comments dropped)."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    parts: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            parts.append([])
        if parts:
            parts[-1].append(line)
    return ["\n".join(p) for p in parts]


def render(flavour: str, base: str | None = None, **kwargs: bool) -> str:
    chosen = FLAVOURS[flavour]
    options = DockerfileOptions(base or chosen.default_base, LABELS, **kwargs)
    return render_dockerfile(chosen, options)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
@pytest.mark.parametrize("ca", [False, True])
def test_two_stages_and_the_ca_bundle_only_in_the_builder(flavour: str, ca: bool) -> None:
    dockerfile = render(flavour, ca_bundle=ca)
    assert "{{" not in dockerfile
    builder, final = stages(dockerfile)
    assert builder.startswith("FROM ") and builder.splitlines()[0].endswith(" AS builder")
    assert ("ca.pem" in builder) is ca
    assert ("PIP_CERT=" in builder) is ca
    assert "ca.pem" not in final and "PIP_CERT" not in final
    assert "pip install" not in final  # dependencies arrive from the builder only
    assert "--only-binary=:all:" in builder


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_final_layer_order_deps_model_code_config_labels(flavour: str) -> None:
    final = stages(render(flavour))[1]

    def at(pattern: str) -> int:
        match = re.search(pattern, final, re.MULTILINE)
        assert match, pattern
        return match.start()

    order = [
        at(r"^COPY --from=builder /opt/modelstack/site/"),
        at(r"^COPY model/ /opt/modelstack/model/"),
        at(r"^COPY --from=builder /opt/modelstack/app/"),
        at(r"^COPY runtime.json "),
        at(r"^LABEL "),
    ]
    assert order == sorted(order)


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_labels_are_quoted_on_one_logical_line(flavour: str) -> None:
    final = stages(render(flavour))[1]
    label = final[final.index("LABEL ") :]
    assert 'org.opencontainers.image.title="iris"' in label
    assert f'dev.modelstack.model.sha256="{"ab" * 32}"' in label
    assert 'description="say \\"hi\\" for \\$5 \\\\o/ next line"' in label
    # Continuation lines only: one instruction.
    assert all(line.endswith("\\") for line in label.splitlines()[:-1])


@pytest.mark.parametrize(
    ("flavour", "base"),
    [
        ("cloudrun-cpu", None),
        ("cloudrun-gpu", None),
        ("lambda", "modelstack/base-python:bookworm"),
    ],
)
def test_non_root_user_where_the_platform_allows(flavour: str, base: str | None) -> None:
    final = stages(render(flavour, base))[1]
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)


def test_lambda_on_the_aws_base_uses_the_task_root_and_handler_cmd() -> None:
    final = stages(render("lambda", AWS_LAMBDA_BASE))[1]
    assert "COPY --from=builder /opt/modelstack/site/ /var/task/" in final
    assert "COPY --from=builder /opt/modelstack/app/ /var/task/" in final
    assert 'CMD ["modelstack_runtime.lambda_handler.handler"]' in final
    assert "ENTRYPOINT" not in final and "PYTHONPATH" not in final
    assert "USER" not in final  # Lambda itself runs the function as a non-root user


def test_lambda_on_another_base_runs_awslambdaric() -> None:
    final = stages(render("lambda", "modelstack/base-python:bookworm"))[1]
    assert 'ENTRYPOINT ["python3", "-m", "modelstack_runtime.lambda_bootstrap"]' in final
    assert "ENV PYTHONPATH=/opt/modelstack/site:/opt/modelstack/app" in final


def test_http_flavours_serve_the_runtime_module() -> None:
    for flavour in ("cloudrun-cpu", "cloudrun-gpu"):
        final = stages(render(flavour))[1]
        assert 'CMD ["python3", "-m", "modelstack_runtime"]' in final
        assert "EXPOSE 8080" in final


def test_gpu_flavour_installs_python_on_the_cuda_base() -> None:
    dockerfile = render("cloudrun-gpu")
    assert dockerfile.count("FROM nvidia/cuda:") == 2
    builder, final = stages(dockerfile)
    assert "python3-venv" in builder
    assert "apt-get install" in final and "python3-venv" not in final


def test_optimize_at_build_runs_in_the_builder_and_copies_the_result() -> None:
    builder, final = stages(render("cloudrun-cpu", optimize=True))
    assert "optimize_model" in builder
    assert "COPY --from=builder /opt/modelstack/model/ /opt/modelstack/model/" in final
    assert "optimize_model" not in final


def test_requirements_are_pinned_exactly() -> None:
    for name in ("cloudrun-cpu", "cloudrun-gpu", "lambda"):
        for base in (AWS_LAMBDA_BASE, "modelstack/base-python:bookworm"):
            text = render_requirements(FLAVOURS[name], base)
            packages = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
            assert packages and all(re.fullmatch(r"[a-z0-9-]+==[0-9.]+", p) for p in packages)
    lambda_other = render_requirements(FLAVOURS["lambda"], "modelstack/base-python:bookworm")
    assert "awslambdaric==" in lambda_other
    assert "awslambdaric" not in render_requirements(FLAVOURS["lambda"], AWS_LAMBDA_BASE)
    assert "onnxruntime-gpu==" in render_requirements(FLAVOURS["cloudrun-gpu"], "x")


def test_extra_packages_are_appended() -> None:
    text = render_requirements(FLAVOURS["cloudrun-cpu"], "x", ("pillow==11.0.0",))
    assert text.splitlines()[-1] == "pillow==11.0.0"


def test_unknown_or_unused_placeholders_are_refused() -> None:
    assert render_template("FROM {{base}}", {"base": "x"}) == "FROM x"
    with pytest.raises(ValueError, match="no value"):
        render_template("FROM {{base}}", {})
    with pytest.raises(ValueError, match="lacks"):
        render_template("FROM x", {"base": "x"})
    assert render_template("ENV A=${B}", {}) == "ENV A=${B}"


def test_targets_map_to_flavours() -> None:
    assert flavour_for(AwsLambdaTarget("prod", "eu-west-1")).name == "lambda"
    assert flavour_for(CloudRunTarget("run", "p", "europe-west1")).name == "cloudrun-cpu"
    gpu = CloudRunTarget("run", "p", "europe-west1", gpu=GpuSpec("nvidia-l4"))
    assert flavour_for(gpu).name == "cloudrun-gpu"
    assert flavour_for(LocalTarget("dev")).name == "cloudrun-cpu"
    assert flavour_for(LocalTarget("dev", flavour="lambda")).name == "lambda"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("public.ecr.aws/lambda/python:3.12", True),
        ("public.ecr.aws/lambda/python", True),
        ("public.ecr.aws/lambda/python@sha256:" + "0" * 64, True),
        ("amazon/aws-lambda-python:3.12", True),
        ("python:3.12-slim", False),
        ("localhost:5000/lambda/python:3.12", False),
    ],
)
def test_aws_lambda_base_detection(image: str, expected: bool) -> None:
    assert is_aws_lambda_base(image) is expected

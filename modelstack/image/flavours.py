"""Image flavours: which template, pinned requirements, default base and protocol a target gets.

| target                      | flavour        | protocol | default base                          |
|-----------------------------|----------------|----------|---------------------------------------|
| aws-lambda                  | `lambda`       | lambda   | public.ecr.aws/lambda/python:3.12     |
| gcp-cloud-run without a GPU | `cloudrun-cpu` | http     | python:3.12-slim                      |
| gcp-cloud-run with a GPU    | `cloudrun-gpu` | http     | nvidia/cuda:12.6.3-cudnn-runtime-     |
|                             |                |          | ubuntu24.04 (Python 3.12 from apt)    |
| local, `flavour: http`      | `cloudrun-cpu` | http     | python:3.12-slim                      |
| local, `flavour: lambda`    | `lambda`       | lambda   | public.ecr.aws/lambda/python:3.12     |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from modelstack.manifest.model import Target
from modelstack.providers import provider_for

__all__ = [
    "AWS_LAMBDA_BASE",
    "FLAVOURS",
    "Flavour",
    "flavour_for",
    "is_aws_lambda_base",
]

Protocol = Literal["http", "lambda"]

AWS_LAMBDA_BASE: Final = "public.ecr.aws/lambda/python:3.12"
_AWS_LAMBDA_REPOSITORIES: Final = ("public.ecr.aws/lambda/python", "amazon/aws-lambda-python")


@dataclass(frozen=True)
class Flavour:
    """One kind of image: its Dockerfile template, pinned requirements and entry protocol."""

    name: str
    template: str
    requirements: str
    default_base: str
    protocol: Protocol
    requirements_other_base: str | None = None
    """Requirements used on a base that is not `default_base` (Lambda: adds awslambdaric)."""

    def requirements_for(self, base_image: str) -> str:
        if self.requirements_other_base and not is_aws_lambda_base(base_image):
            return self.requirements_other_base
        return self.requirements


FLAVOURS: Final[dict[str, Flavour]] = {
    "lambda": Flavour(
        name="lambda",
        template="lambda.Dockerfile",
        requirements="requirements-cpu.txt",
        requirements_other_base="requirements-lambda.txt",
        default_base=AWS_LAMBDA_BASE,
        protocol="lambda",
    ),
    "cloudrun-cpu": Flavour(
        name="cloudrun-cpu",
        template="cloudrun-cpu.Dockerfile",
        requirements="requirements-cpu.txt",
        default_base="python:3.12-slim",
        protocol="http",
    ),
    "cloudrun-gpu": Flavour(
        name="cloudrun-gpu",
        template="cloudrun-gpu.Dockerfile",
        requirements="requirements-gpu.txt",
        default_base="nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04",
        protocol="http",
    ),
}


def is_aws_lambda_base(image: str) -> bool:
    """True for the AWS Lambda Python base images, whose runtime client calls the handler."""
    repository = image.split("@", 1)[0]
    name, _, tag = repository.rpartition(":")
    if not name or "/" in tag:  # no tag, or the colon was a registry port
        name = repository
    return name in _AWS_LAMBDA_REPOSITORIES


def flavour_for(target: Target) -> Flavour:
    """The image flavour a target is built as (its provider chooses, see the table above)."""
    return FLAVOURS[provider_for(target).flavour(target)]

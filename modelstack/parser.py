"""The `modelstack` argument parser: every command, its arguments and its help."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from modelstack.events.parser import events_parser
from modelstack.monitor.arguments import add_monitor_parser
from modelstack.providers import PROVIDERS

__all__ = ["build_parser"]

EPILOG = """\
exit codes: 0 ok, 1 check or smoke-test failure, 2 usage error, 3 infrastructure error,
130 interrupted (a deploy returns traffic to the last good version first)
docs: https://modelstack.dev  ·  manifest schema: `modelstack schema`"""


class _VersionAction(argparse.Action):
    """`--version`: reads the package metadata only when asked, not on every run."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from modelstack import __version__

        print(f"modelstack {__version__}")  # on stdout, as argparse's own version action does
        parser.exit()


def _image_options(p: argparse.ArgumentParser) -> None:
    """--base-image, --ca-bundle, --registry and --verbose, shared by `build` and `up`."""
    p.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="override the flavour's base image (default: $MODELSTACK_BASE_IMAGE)",
    )
    p.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="CA bundle for pip in the builder stage (default: $MODELSTACK_CA_BUNDLE)",
    )
    p.add_argument(
        "--registry",
        metavar="URL",
        help="push to URL/<name> (default: the target's ECR / Artifact Registry)",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="stream the engine's full build output (it is always kept in .modelstack/logs/)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelstack",
        description="Model-as-code for serverless inference: lint, test, build and deploy an "
        "ONNX model from one manifest (modelstack.yaml).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "build",
        help="build the target's image, smoke-test it in a container, push by digest",
        description="Render a minimal build context, build it with the Docker engine (skipped "
        "when the content-addressed tag exists), run the image locally and run every smoke "
        "test against it; with --push, push and record repository@sha256:... A failing smoke "
        "test pushes nothing.",
        epilog="exit codes: 0 ok, 1 smoke test failed, 2 usage error, 3 Docker/registry error",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--target", "-t", metavar="NAME", help="target to build (default: the only one)")
    p.add_argument("--push", action="store_true", help="push after the smoke tests pass")
    _image_options(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no build/push progress on stderr")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser(
        "init",
        help="scaffold a manifest from an ONNX model",
        description="Write modelstack.yaml next to MODEL: the signature comes from the model, "
        "and a first smoke test is recorded from a real run on generated inputs.",
    )
    p.add_argument("model", help="path to the .onnx file")
    p.add_argument("--provider", choices=list(PROVIDERS), default="local")
    p.add_argument("--gpu", action="store_true", help="with gcp-cloud-run: an nvidia-l4 GPU")
    p.add_argument("--name", help="service name (a DNS label; default: from the file name)")
    p.add_argument("--output", "-o", metavar="FILE", help="manifest path (default: beside MODEL)")
    p.add_argument("--force", action="store_true", help="overwrite an existing manifest")
    p.add_argument(
        "--schema-ref",
        choices=["url", "local"],
        default="url",
        help="the editor's $schema: the published URL for this version (default), or a local "
        "copy (the nearest one up the tree, written by `modelstack schema --write`; written "
        "beside the manifest when there is none)",
    )

    p = sub.add_parser(
        "lint",
        help="check manifests: schema, model, smoke tests, platform limits, secrets",
        description="Check manifests without deploying. PATHS are files or directories "
        "(searched for modelstack.yaml / modelstack.yml); the default is the current "
        "directory. Suppress a finding on one line with `# modelstack: noqa MS123`.",
        epilog="exit codes: 0 clean (warnings allowed), 1 errors found, 2 usage or I/O error",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files or directories; a model or smoke-input file lints the manifests "
        "that reference it",
    )
    p.add_argument(
        "--format",
        choices=["text", "json", "github", "sarif"],
        default="text",
        help="output format (github = workflow annotations; sarif = code scanning)",
    )
    p.add_argument(
        "--select",
        action="append",
        metavar="IDS",
        help="only these rule ids or prefixes, comma-separated (e.g. MS1,MS301)",
    )
    p.add_argument(
        "--ignore",
        action="append",
        metavar="IDS",
        help="skip these rule ids or prefixes, comma-separated",
    )
    p.add_argument(
        "--no-model-checks",
        dest="model_checks",
        action="store_false",
        help="do not open model files (fast pre-commit mode: schema and settings only)",
    )

    p = sub.add_parser(
        "plan",
        help="show the cloud resources a target would create (offline, no credentials)",
        description="Run the target's Pulumi program under Pulumi's mocks and print every "
        "resource with its key properties. Nothing is deployed and no credentials are needed, "
        "so it fits code review: the JSON form is stable and diffs cleanly between commits.",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--target", "-t", help="target name (default: the only non-local target)")
    p.add_argument(
        "--format",
        choices=["table", "json", "markdown"],
        default="table",
        help="markdown: a table fit for a pull-request comment; with a traffic: section every "
        "format shows the monthly estimate",
    )
    p.add_argument(
        "--image",
        metavar="REF",
        help="image by digest (repository@sha256:...); default: a labelled placeholder",
    )

    sub.add_parser("rules", help="list the lint rules", description="List every lint rule.")
    p = sub.add_parser(
        "schema",
        help="print the manifest's JSON schema",
        description="Print the JSON schema of modelstack.yaml (for editors and validators), "
        "or a Markdown reference of every field.",
    )
    p.add_argument("--format", choices=["json", "markdown"], default="json")
    p.add_argument(
        "--write",
        metavar="PATH",
        help="write a copy to PATH (a file or folder) for editors that work offline",
    )
    p = sub.add_parser(
        "test",
        help="run the smoke tests locally on onnxruntime",
        description="Verify the model (sha256, onnx.checker) and run every smoke test through "
        "the inference runtime in this process: outputs against expectations, latency against "
        "budgets.",
        epilog="exit codes: 0 all passed, 1 a smoke test failed, 2 usage error",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--format", choices=["text", "json", "junit"], default="text")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    p = sub.add_parser(
        "serve",
        help="serve the model over HTTP (Open Inference Protocol) for development",
        description="Run the same HTTP runtime the images run, on this machine. It answers "
        "GET /v2/health/ready, GET /v2/models/NAME and POST /v2/models/NAME/infer.",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    _evaluation_parsers(sub)
    _cost_parser(sub)
    events_parser(sub)
    add_monitor_parser(sub)
    _deploy_parsers(sub)
    return parser


def _cost_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "cost",
        help="monthly cost of a target and its alternatives, with the break-even against reserved",
        description="Price the target as declared and its alternatives (Lambda on demand and "
        "with provisioned concurrency; Cloud Run request- and instance-based billing; the "
        "cheapest reserved EC2 / Compute Engine VM that holds the model) for a traffic profile, "
        "from the shipped price tables, and find the traffic from which reserved is cheaper. "
        "--measure times the built image on the local Docker engine at each Lambda memory "
        "size's CPU share first.",
        epilog="exit codes: 0 ok, 2 usage error or a bad profile or price table, 3 Docker error",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--target", "-t", metavar="NAME", help="target (default: the only cloud one)")
    p.add_argument(
        "--traffic",
        metavar="PROFILE",
        help="a traffic profile: a CSV of 168 hourly counts, or YAML/JSON with the keys of the "
        "manifest's traffic: section (default: that section)",
    )
    p.add_argument(
        "--requests-per-month",
        type=float,
        metavar="N",
        help="a flat week carrying N requests a month, instead of a profile",
    )
    p.add_argument(
        "--duration-ms",
        type=float,
        metavar="D",
        help="latency of one request (default: --measure, traffic.duration_ms, or the last "
        "recorded measurement)",
    )
    p.add_argument(
        "--no-free-tier",
        dest="free_tier",
        action="store_false",
        help="leave the providers' monthly free tiers out",
    )
    p.add_argument("--prices", metavar="FILE", help="price tables used before the shipped ones")
    p.add_argument(
        "--measure",
        action="store_true",
        help="build the image and time it on Docker at each Lambda memory size's CPU share",
    )
    p.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="--measure: override the base image (default: $MODELSTACK_BASE_IMAGE)",
    )
    p.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="--measure: CA bundle for pip in the builder stage (default: $MODELSTACK_CA_BUNDLE)",
    )
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument(
        "--chart",
        metavar="FILE",
        help="draw monthly cost against requests per month into FILE (.png or .svg; needs the "
        "plot extra)",
    )


def _evaluation_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics, latency and size on the labelled data sets, against the gates",
        description="Run the model over the manifest's evaluation data sets through the "
        "inference runtime in this process, compute the metrics, measure one-row latency and "
        "the model's size, and check evaluation.gates (against evaluation.baseline when set).",
        epilog="exit codes: 0 every gate passed, 1 a gate failed, 2 usage error or a bad data set",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--target", "-t", metavar="NAME", help="the target the result is for")
    group.add_argument(
        "--against",
        metavar="TARGET",
        help="evaluate what TARGET serves to its users, through its deployed endpoint",
    )
    p.add_argument("--format", choices=["text", "json", "junit", "markdown"], default="text")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    p.add_argument(
        "--stack", metavar="NAME", help="with --against a cloud target: its Pulumi stack name"
    )
    p.add_argument(
        "--backend",
        metavar="URL",
        help="with --against a cloud target: the Pulumi state backend (default: "
        "$PULUMI_BACKEND_URL, else .modelstack/pulumi beside the manifest)",
    )
    p.add_argument(
        "--sweep",
        metavar="CONDITION=START:STOP[:STEP]",
        help="a routed manifest: also evaluate the cascade at each threshold of its first "
        "escalation rule, such as max_prob_below=0.5:0.99 (STEP default 0.05)",
    )

    p = sub.add_parser(
        "optimize",
        help="quantise (int8) or convert (FP16) the model, adopted only if the gates pass",
        description="Make a candidate with --method, evaluate it and the current model on the "
        "same data in one run, and print size, p50/p99 latency on this machine and every metric "
        "with its change. Only when every gate passes is the candidate written beside the model "
        "and model.path and model.sha256 updated in place (comments and layout kept). "
        "Otherwise nothing is written.",
        epilog="exit codes: 0 adopted (or passed, with --dry-run), 1 a gate failed, 2 usage "
        "error or a bad data set",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--method", required=True, choices=["dynamic-int8", "static-int8", "fp16"])
    p.add_argument(
        "--calibration",
        metavar="DATA",
        help="static-int8: the evaluation data set to calibrate on (default: all of them; "
        "the first 512 rows are used)",
    )
    p.add_argument("--dry-run", action="store_true", help="evaluate only; never write")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")


def _deploy_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def common(p: argparse.ArgumentParser, *, backend: bool = True) -> None:
        p.add_argument("manifest", help="path to modelstack.yaml")
        p.add_argument(
            "--target", "-t", metavar="NAME", help="target (default: local, or the only one)"
        )
        p.add_argument(
            "--stack", metavar="NAME", help="Pulumi stack name (default: the target name)"
        )
        if backend:
            p.add_argument(
                "--backend",
                metavar="URL",
                help="Pulumi state backend (default: $PULUMI_BACKEND_URL, else "
                "file://.modelstack/pulumi beside the manifest)",
            )

    p = sub.add_parser(
        "up",
        help="lint, test, build, push and roll out with pre-traffic smoke tests",
        description="Lint, run the smoke tests locally, build the image (skipped when "
        "unchanged), smoke-test the container, push, deploy the candidate with 0% traffic, "
        "smoke-test it, shift traffic by the manifest's rollout (checking health between "
        "steps) and promote it. Any failure after the candidate exists returns traffic to the "
        "last good version. Running `up` again after an interrupt or crash recovers cleanly.",
        epilog="exit codes: 0 deployed or unchanged, 1 lint or smoke test failed (traffic on the "
        "last good version), 2 usage error, 3 infrastructure error, 130 interrupted",
    )
    common(p)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before deploying")
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="json: a summary of every step on stdout (progress stays on stderr)",
    )
    _image_options(p)

    p = sub.add_parser(
        "rollback",
        help="put an earlier release back on all traffic",
        description="Deploy an earlier release again (the previous one, or --to VERSION) "
        "through the gated rollout: its smoke tests run before it gets traffic.",
    )
    common(p)
    p.add_argument("--to", metavar="VERSION", help="the version to restore (default: previous)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask first")

    p = sub.add_parser(
        "status",
        help="versions, traffic split, endpoint, last smoke results",
        description="Show what a target serves, from its deploy state.",
    )
    common(p, backend=False)
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser(
        "destroy",
        help="remove everything a target created",
        description="Remove every resource of the target. Asks first unless "
        "--yes; refuses to ask when CI is set.",
    )
    common(p)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask first")
    p.add_argument(
        "--with-tiers",
        action="store_true",
        help="a routed service: remove its tiers too, after it (default: they keep running)",
    )

    p = sub.add_parser(
        "history",
        help="the audit log of deploys",
        description="Every deploy, rollback and recovery, from "
        ".modelstack/history.jsonl: who, what, when, digest and result.",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--target", "-t", metavar="NAME", help="only this target")
    p.add_argument("--format", choices=["text", "json"], default="text")

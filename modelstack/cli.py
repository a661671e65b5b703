"""The `modelstack` command line: it parses arguments and dispatches, nothing else.

Commands are imported only when they run, so `modelstack lint` never pays for Docker, Pulumi or
onnxruntime. Exit codes: 0 ok, 1 a check or smoke test failed, 2 usage error, 3 infrastructure
error (Docker, registry, cloud), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from modelstack.errors import ModelstackError
from modelstack.parser import build_parser

if TYPE_CHECKING:
    from modelstack.deploy.pipeline import BuildOptions

__all__ = ["COMMANDS", "build_parser", "main"]


def _lint(args: argparse.Namespace) -> int:
    from modelstack.commands.lint import lint

    return lint(
        paths=args.paths,
        fmt=args.format,
        select=_ids(args.select),
        ignore=_ids(args.ignore),
        model_checks=args.model_checks,
    )


def _plan(args: argparse.Namespace) -> int:
    from modelstack.commands.plan import plan

    return plan(manifest=args.manifest, target=args.target, fmt=args.format, image=args.image)


def _cost(args: argparse.Namespace) -> int:
    from modelstack.commands.cost import cost

    return cost(
        args.manifest,
        target=args.target,
        traffic=args.traffic,
        requests_per_month=args.requests_per_month,
        duration_ms=args.duration_ms,
        free_tier=args.free_tier,
        prices=args.prices,
        measure=args.measure,
        base_image=args.base_image or os.environ.get("MODELSTACK_BASE_IMAGE"),
        ca_bundle=args.ca_bundle or os.environ.get("MODELSTACK_CA_BUNDLE"),
        fmt=args.format,
        chart=args.chart,
    )


def _rules(args: argparse.Namespace) -> int:
    from modelstack.commands.rules import rules

    return rules()


def _schema(args: argparse.Namespace) -> int:
    from modelstack.commands.schema import schema

    return schema(fmt=args.format, write=args.write)


def _test(args: argparse.Namespace) -> int:
    from modelstack.commands.test import test

    return test(manifest_path=args.manifest, fmt=args.format, output=args.output)


def _evaluate(args: argparse.Namespace) -> int:
    from modelstack.commands.evaluate import evaluate

    return evaluate(
        args.manifest,
        target=args.target,
        against=args.against,
        fmt=args.format,
        output=args.output,
        stack=args.stack,
        backend=args.backend,
        sweep=args.sweep,
    )


def _optimize(args: argparse.Namespace) -> int:
    from modelstack.commands.optimize import optimize

    return optimize(
        args.manifest,
        method=args.method,
        calibration=args.calibration,
        dry_run=args.dry_run,
        fmt=args.format,
    )


def _serve(args: argparse.Namespace) -> int:
    from modelstack.commands.serve import serve

    return serve(manifest_path=args.manifest, port=args.port, host=args.host)


def _build(args: argparse.Namespace) -> int:
    from modelstack.commands.build import build

    options = _build_options(args)
    return build(
        args.manifest,
        target=args.target,
        push=args.push,
        base_image=options.base_image,
        ca_bundle=options.ca_bundle,
        quiet=args.quiet,
        registry=options.registry,
        fmt=args.format,
        verbose=options.verbose,
    )


def _build_options(args: argparse.Namespace) -> BuildOptions:
    from modelstack.deploy.pipeline import BuildOptions

    return BuildOptions(
        base_image=args.base_image or os.environ.get("MODELSTACK_BASE_IMAGE"),
        ca_bundle=args.ca_bundle or os.environ.get("MODELSTACK_CA_BUNDLE"),
        registry=args.registry,
        verbose=args.verbose,
    )


def _up(args: argparse.Namespace) -> int:
    from modelstack.commands.up import up

    return up(
        args.manifest,
        target=args.target,
        stack=args.stack,
        yes=args.yes,
        fmt=args.format,
        options=_build_options(args),
        backend=args.backend,
    )


def _rollback(args: argparse.Namespace) -> int:
    from modelstack.commands.rollback import rollback

    return rollback(
        args.manifest,
        target=args.target,
        to=args.to,
        stack=args.stack,
        yes=args.yes,
        backend=args.backend,
    )


def _status(args: argparse.Namespace) -> int:
    from modelstack.commands.status import status

    return status(args.manifest, target=args.target, stack=args.stack, fmt=args.format)


def _destroy(args: argparse.Namespace) -> int:
    from modelstack.commands.destroy import destroy

    return destroy(
        args.manifest,
        target=args.target,
        stack=args.stack,
        yes=args.yes,
        backend=args.backend,
        with_tiers=args.with_tiers,
    )


def _events(args: argparse.Namespace) -> int:
    from modelstack.commands.events import events

    return events(
        args.manifest,
        target=args.target,
        source=args.source,
        send=args.send,
        tail=args.tail,
        redrive=args.redrive,
        trigger=args.trigger,
        fmt=args.format,
    )


def _monitor(args: argparse.Namespace) -> int:
    from modelstack.commands.monitor import monitor

    return monitor(
        args.manifest, target=args.target, since=args.since, fmt=args.format, html=args.html
    )


def _history(args: argparse.Namespace) -> int:
    from modelstack.commands.history import history

    return history(args.manifest, target=args.target, fmt=args.format)


def _init(args: argparse.Namespace) -> int:
    from modelstack.commands.init import init

    return init(
        model=args.model,
        provider=args.provider,
        output=args.output,
        name=args.name,
        force=args.force,
        gpu=args.gpu,
        schema_ref=args.schema_ref,
    )


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "build": _build,
    "cost": _cost,
    "destroy": _destroy,
    "evaluate": _evaluate,
    "events": _events,
    "history": _history,
    "init": _init,
    "lint": _lint,
    "monitor": _monitor,
    "optimize": _optimize,
    "plan": _plan,
    "rollback": _rollback,
    "rules": _rules,
    "schema": _schema,
    "serve": _serve,
    "status": _status,
    "test": _test,
    "up": _up,
}


def _ids(values: Sequence[str] | None) -> list[str]:
    return [part.strip() for v in values or () for part in v.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ModelstackError as exc:
        print(f"modelstack {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"modelstack {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:
        print(
            f"modelstack {args.command}: unexpected error (a bug; please report it):\n"
            + traceback.format_exc(),
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())

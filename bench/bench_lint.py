"""Benchmark of `modelstack lint` as a pre-commit hook, on 20 manifests.

Generates 20 distinct valid manifests (variations of examples/iris and examples/digits-gpu:
names, versions, targets, rollout, with their model and smoke-test files), each a
`modelstack.yaml` in its own folder of a temporary directory, then measures the wall time of
fresh processes (interpreter start and imports included), median of N runs, interleaved so
that drift on the machine affects every command alike:

* (a) `modelstack lint --no-model-checks <20 files>`;
* (b) the baseline, measured in the same run: `check-jsonschema --schemafile
  schemas/modelstack.v1.schema.json <20 files>`, the usual pre-commit schema hook;
* (c) `modelstack lint <20 files>` with the model checks (the ONNX models are read);
* (d) for context, the interpreter's floor: `python -c pass`.

Targets: (a) <= 0.5x (b); (c) < 1 s. It also reports the peak RSS of each command: the
`ru_maxrss` of its own process, from `os.wait4` (per child, where
`resource.getrusage(RUSAGE_CHILDREN)` keeps a high-water mark across all children).
Nothing leaves the machine.

Every command runs with the same bytecode cache (PYTHONPYCACHEPREFIX in the temporary
directory, filled by one untimed run each), as for a hook installed by pip, which compiles
its modules; `--no-bytecode` keeps the environment's PYTHONDONTWRITEBYTECODE, so modules
without a `__pycache__` (an editable install) are compiled from source in every process.

Usage: ``python bench/bench_lint.py [--runs N] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "modelstack.v1.schema.json"
EXAMPLES = {"iris": REPO / "examples" / "iris", "digits": REPO / "examples" / "digits-gpu"}
COPIED = ("model.onnx", "smoke_cases.json", "batch.npz")
COUNT = 20
TIMEOUT_S = 60.0


def variations(count: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` distinct manifests as (example, document): half iris, half digits."""
    documents = []
    for index in range(count):
        example = "iris" if index % 2 == 0 else "digits"
        path = EXAMPLES[example] / "modelstack.yaml"
        document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        n = index // 2
        metadata = document["metadata"]
        metadata["name"] = f"{example}-{n}"
        metadata["version"] = f"{1 + n % 3}.{n}.{index % 5}"
        metadata["labels"] = {**metadata.get("labels", {}), "variant": f"v{index}"}
        targets = document["targets"]
        targets["local"]["port"] = 9000 + index
        if example == "iris":
            prod = targets["prod"]
            prod["memory_mb"] = 512 * (1 + n % 4)
            prod["region"] = ("eu-west-1", "us-east-1", "eu-central-1")[n % 3]
            if n % 2:
                prod["provisioned_concurrency"].pop("schedules")
            if n % 3 == 2:
                targets["staging"] = {**prod, "reserved_concurrency": 5}
                targets["staging"].pop("function_url", None)
            if n % 3 == 2:
                document["rollout"] = {"strategy": "all-at-once"}
            else:
                document["rollout"]["steps"] = [[10, 50, 100], [25, 100]][n % 3]
        else:
            gpu = targets["gpu"]
            gpu["max_instances"] = 1 + n % 3
            gpu["concurrency"] = 4 * (1 + n % 3)
            if n % 2:
                targets["cpu"] = {
                    "provider": "gcp-cloud-run", "project": gpu["project"],
                    "region": "europe-west1", "cpu": 2, "memory": "4Gi",
                }  # fmt: skip
            if n % 3 == 1:
                targets.pop("local")
            document["rollout"]["interval_s"] = 30 * (1 + n % 4)
        documents.append((example, document))
    return documents


def write_manifests(root: Path, count: int) -> list[Path]:
    """Each variation in its own folder with the model and smoke-test files beside it."""
    files = []
    for index, (example, document) in enumerate(variations(count)):
        folder = root / f"{index:02d}-{document['metadata']['name']}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name in COPIED:
            if (EXAMPLES[example] / name).exists():
                shutil.copy2(EXAMPLES[example] / name, folder / name)
        text = f"# yaml-language-server: $schema={SCHEMA.as_uri()}\n" + yaml.safe_dump(
            document, sort_keys=False, width=100
        )
        path = folder / "modelstack.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def executable(name: str) -> str:
    """The console script beside this interpreter (no version-manager shim in the timing)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed")
    return found


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int, int, str]:
    """Wall seconds, exit status, peak RSS in KiB (the child's ru_maxrss) and output."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=REPO, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    output = process.stdout.read()  # the outputs are small: no deadlock on a full pipe
    deadline = started + TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            raise SystemExit(f"timed out after {TIMEOUT_S:.0f} s: {' '.join(argv)}")
        time.sleep(0.0005)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    return elapsed, process.returncode, usage.ru_maxrss, output.decode(errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="runs per command (1-50)")
    parser.add_argument("--keep", type=Path, help="write the manifests here and keep them")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="no bytecode cache: compile unbytecompiled modules in every run",
    )
    args = parser.parse_args()
    runs = max(1, min(args.runs, 50))

    with tempfile.TemporaryDirectory(prefix="modelstack-bench-lint-") as tmp:
        root = args.keep or Path(tmp)
        files = [str(f) for f in write_manifests(root, COUNT)]
        modelstack = [executable("modelstack"), "lint"]
        commands: dict[str, list[str]] = {
            "a": [*modelstack, "--no-model-checks", *files],
            "b": [executable("check-jsonschema"), "--schemafile", str(SCHEMA), *files],
            "c": [*modelstack, *files],
            "d": [sys.executable, "-c", "pass"],
        }
        env = dict(os.environ)
        if not args.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        # One untimed run each: warm the page cache and .pyc files, and check the inputs.
        for key, argv in commands.items():
            _, status, _, output = run_once(argv, env)
            if status != 0:
                raise SystemExit(f"({key}) failed with status {status}:\n{output}")
        times: dict[str, list[float]] = {key: [] for key in commands}
        rss: dict[str, list[int]] = {key: [] for key in commands}
        for _ in range(runs):
            for key, argv in commands.items():
                elapsed, status, peak, output = run_once(argv, env)
                if status != 0:
                    raise SystemExit(f"({key}) failed with status {status}:\n{output}")
                times[key].append(elapsed)
                rss[key].append(peak)

    median = {key: statistics.median(values) for key, values in times.items()}
    peaks = {key: max(values) for key, values in rss.items()}
    ratio = median["a"] / median["b"]
    rows = [
        (f"(a) `modelstack lint --no-model-checks`, {COUNT} files",
         _s(median["a"]), _spread(times["a"]), _mib(peaks["a"]), "<= 0.5x (b)", _ok(ratio <= 0.5)),
        (f"(b) baseline `check-jsonschema --schemafile ...`, {COUNT} files",
         _s(median["b"]), _spread(times["b"]), _mib(peaks["b"]), "", ""),
        ("(a) / (b)", f"{ratio:.2f}x", "", "", "<= 0.5x", _ok(ratio <= 0.5)),
        (f"(c) `modelstack lint` with model checks, {COUNT} files",
         _s(median["c"]), _spread(times["c"]), _mib(peaks["c"]), "< 1 s", _ok(median["c"] < 1)),
        ("(d) interpreter floor `python -c pass`",
         _s(median["d"]), _spread(times["d"]), _mib(peaks["d"]), "", ""),
        ("(a) - (d): modelstack's own time", _s(median["a"] - median["d"]), "", "", "", ""),
        ("(b) - (d): check-jsonschema's own time", _s(median["b"] - median["d"]), "", "", "", ""),
    ]  # fmt: skip
    cache = "no bytecode cache" if args.no_bytecode else "bytecode cached"
    print(f"Median of {runs} fresh processes per command (interleaved, {cache}), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.\n")  # fmt: skip
    print("| measurement | median | min-max | peak RSS | target | ok |")
    print("|---|---:|---:|---:|---:|:-:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all(row[5] != "no" for row in rows) else 1


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _spread(values: list[float]) -> str:
    return f"{min(values) * 1000:.0f}-{max(values) * 1000:.0f} ms"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def _ok(passed: bool) -> str:
    return "yes" if passed else "no"


if __name__ == "__main__":
    raise SystemExit(main())

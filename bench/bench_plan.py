"""Time `modelstack plan` for every cloud target of every example, imports included.

Each run is a fresh Python process (as a user or a CI job would start it), so the wall time
includes interpreter start-up and every import. Usage:

    python bench/bench_plan.py              # 5 runs per target, via the plan() function
    python bench/bench_plan.py --runs 10 --cli   # through the `modelstack plan` console script
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 3.0


def cloud_targets(manifest: Path) -> list[tuple[str, str]]:
    """(target name, provider) of each non-local target, read without importing Pulumi."""
    sys.path.insert(0, str(ROOT))
    from modelstack.manifest import load_manifest

    loaded = load_manifest(manifest)
    return [(n, t.provider) for n, t in sorted(loaded.targets.items()) if t.provider != "local"]


def command(manifest: Path, target: str, cli: bool) -> list[str]:
    if cli:
        exe = shutil.which("modelstack")
        if exe is None:
            raise SystemExit("--cli needs the `modelstack` console script on PATH")
        return [exe, "plan", str(manifest), "--target", target, "--format", "json"]
    code = (
        "from modelstack.commands.plan import plan; "
        f"raise SystemExit(plan({str(manifest)!r}, {target!r}, 'json'))"
    )
    return [sys.executable, "-c", code]


def time_once(argv: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return wall, len(json.loads(done.stdout)["resources"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per target (default 5)")
    parser.add_argument("--cli", action="store_true", help="time the `modelstack` script")
    options = parser.parse_args()

    rows = [("manifest", "target", "provider", "resources", "min s", "median s", "max s")]
    slowest = 0.0
    for manifest in sorted(ROOT.glob("examples/*/modelstack.yaml")):
        for target, provider in cloud_targets(manifest):
            argv = command(manifest.relative_to(ROOT), target, options.cli)
            walls, count = [], 0
            for _ in range(options.runs):
                wall, count = time_once(argv)
                walls.append(wall)
            slowest = max(slowest, statistics.median(walls))
            rows.append(
                (
                    str(manifest.relative_to(ROOT)),
                    target,
                    provider,
                    str(count),
                    f"{min(walls):.2f}",
                    f"{statistics.median(walls):.2f}",
                    f"{max(walls):.2f}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    verdict = "within" if slowest < BUDGET_S else "OVER"
    print(f"\nslowest median {slowest:.2f} s: {verdict} the {BUDGET_S:.0f} s budget")
    return 0 if slowest < BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())

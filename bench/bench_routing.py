"""Benchmark of the confidence cascade on the local target (examples/cascade, local Docker engine).

Works on a private copy of examples/cascade in a temporary directory, each service's `local`
port set to a free port, and measures, in one run (containers on the host network, traffic to
127.0.0.1 only):

* `modelstack up --target local` of the routed entry (`small`, which deploys its tier `large`
  first) and of `plain`, a copy of the small manifest without `routing:` on another port: the
  same model served without a cascade;
* accuracy: each of the 450 held-out digits as a one-row request to the cascade's stable
  endpoint and to the large model's, one client; the cascade's accuracy against the large
  model alone (goal: within 0.5 points), and how many it escalated by the answers'
  `parameters.escalated` (goal: at most 35%), with any `tier_failure` fallbacks (goal: none);
* the cost of the cascade to a request that stays: the digits the cascade did not escalate,
  sent as one-row requests by one client on one keep-alive connection per service,
  interleaved request by request with the order alternating, to the cascade and to `plain`;
  p50 and p99 of each and the ratio of the p50s (goal: at most 1.1x), with the median and
  range of the ratio over the rounds the pairs are cut into;
* for reference, the p50 of escalated requests through the cascade against the same digits
  sent straight to the large model (the hop's cost, no goal).

It always runs `modelstack destroy` of every service it deployed at the end (also on failure
and on Ctrl-C) and removes the images this run built for them.

Usage: ``python bench/bench_routing.py [--base-image IMG] [--ca-bundle FILE] [--prefix P]
[--pairs N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
from bench_up import Commands, docker_lines, free_port, percentile

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cascade"
HEADERS = {"Content-Type": "application/json"}
MAX_PHASE_S = 300.0
"""No phase of requests runs longer than this, however many it was asked for."""
ACCURACY_WITHIN = 0.005
MAX_ESCALATED = 0.35
MAX_P50_RATIO = 1.1

Row = tuple[str, str, str, str, str, str]
"""measurement, cascade, baseline, ratio or difference, goal, ok"""


# --- the private copies of the example -------------------------------------------------------


@dataclass(frozen=True)
class Services:
    small: Path
    large: Path
    plain: Path
    names: dict[str, str]
    ports: dict[str, int]


def prepare(root: Path, prefix: str) -> Services:
    """The example copied under `root`, each service renamed `<prefix>-<role>` on a free port,
    and `plain`: the small manifest without its `routing:` section."""
    shutil.copytree(
        EXAMPLE,
        root / "cascade",
        ignore=shutil.ignore_patterns(".modelstack", "__pycache__", "train.py"),
    )
    shutil.copytree(root / "cascade" / "small", root / "plain")
    names = {role: f"{prefix}-{role}" for role in ("small", "large", "plain")}
    ports = free_ports(3)
    manifests = {
        "small": root / "cascade/small",
        "large": root / "cascade/large",
        "plain": root / "plain",
    }
    for index, (role, folder) in enumerate(manifests.items()):
        manifest = folder / "modelstack.yaml"
        text = manifest.read_text(encoding="utf-8")
        text = sub_once(r"(?m)^(  name: )cascade-(small|large)$", rf"\g<1>{names[role]}", text)
        text = sub_once(r"(?m)^(    port: )\d+$", rf"\g<1>{ports[index]}", text)
        schema = (REPO / "schemas" / "modelstack.v1.schema.json").as_uri()
        text = re.sub(r"\$schema=\S+", f"$schema={schema}", text)
        text = re.sub(
            r"(?m)^(\s+expect_model: )cascade-(small|large)\b", rf"\g<1>{prefix}-\2", text
        )
        if role == "plain":
            text = without_section(text, "routing")
            text = without_section(text, "evaluation")  # its gates are the cascade's
            text = re.sub(r"(?m)^\s+expect_model: .*\n", "", text)  # no tier answers here
        manifest.write_text(text, encoding="utf-8")
    return Services(
        small=manifests["small"] / "modelstack.yaml",
        large=manifests["large"] / "modelstack.yaml",
        plain=manifests["plain"] / "modelstack.yaml",
        names=names,
        ports=dict(zip(manifests, ports, strict=True)),
    )


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    for _ in range(100):  # bounded: the kernel rarely hands out the same port twice in a row
        port = free_port()
        if port not in ports:
            ports.append(port)
        if len(ports) == count:
            return ports
    raise SystemExit("could not find free ports on 127.0.0.1")


def sub_once(pattern: str, replacement: str, text: str) -> str:
    result, count = re.subn(pattern, replacement, text, count=1)
    if count != 1:
        raise SystemExit(f"examples/cascade: a manifest has no line matching {pattern!r}")
    return result


def without_section(text: str, key: str) -> str:
    """`text` without the top-level `key:` and the indented or blank lines under it."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(f"{key}:"):
            inside = True
        elif inside and line.strip() and not line.startswith((" ", "#")):
            inside = False
        if not inside:
            kept.append(line)
    if len(kept) == len(text.splitlines()):
        raise SystemExit(f"examples/cascade/small/modelstack.yaml has no {key}: section")
    return "".join(kept)


def held_out() -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """One v2 request body per held-out digit, the pixels and the true digits."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(EXAMPLE / "small" / "eval.npz") as archive:
        for member in ("pixels", "label"):
            with archive.open(f"{member}.npy") as stream:
                arrays[member] = np.lib.format.read_array(stream, allow_pickle=False)
    bodies = [
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "pixels",
                        "datatype": "FP32",
                        "shape": [1, 64],
                        "data": [float(v) for v in row],
                    }
                ]
            }
        ).encode()
        for row in arrays["pixels"]
    ]
    return bodies, arrays["pixels"], arrays["label"]


def offline_escalated(manifest: Path, pixels: np.ndarray) -> set[int]:
    """The rows `modelstack evaluate` escalates: the entry's model in this process, each row
    decided by the runtime's own function."""
    import onnxruntime as ort

    from modelstack.manifest import load_manifest
    from modelstack.routing.spec import routing_of
    from modelstack_runtime.routing import should_escalate

    spec = routing_of(load_manifest(manifest))
    assert spec is not None
    rule = spec.escalate[0]
    model = str(manifest.parent / "model.onnx")
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    output = np.asarray(session.run([rule.output], {"pixels": pixels})[0])
    rows = range(len(output))
    return {i for i in rows if should_escalate(rule.condition, rule.threshold, output[i : i + 1])}


# --- the client ------------------------------------------------------------------------------


@dataclass
class Answer:
    seconds: float
    label: int
    model: str
    escalated: bool
    tier_failure: str | None


@dataclass
class Client:
    """One keep-alive connection to one service's stable endpoint."""

    port: int
    name: str
    connection: http.client.HTTPConnection | None = field(default=None, repr=False)

    def infer(self, body: bytes) -> Answer:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.perf_counter()
        self.connection.request("POST", f"/v2/models/{self.name}/infer", body=body, headers=HEADERS)
        response = self.connection.getresponse()
        payload = response.read()
        seconds = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"{self.name} answered {response.status}: {payload[:300]!r}")
        return parse_answer(seconds, json.loads(payload))

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def parse_answer(seconds: float, document: dict[str, Any]) -> Answer:
    label = next(o for o in document["outputs"] if o["name"] == "label")
    parameters = document.get("parameters") or {}
    return Answer(
        seconds,
        int(label["data"][0]),
        str(document.get("model_name")),
        bool(parameters.get("escalated", False)),
        parameters.get("tier_failure"),
    )


# --- the measurements ------------------------------------------------------------------------


@dataclass
class Accuracy:
    cascade: list[Answer]
    large: list[Answer]
    labels: np.ndarray

    def accuracy(self, answers: list[Answer]) -> float:
        return float(np.mean(np.array([a.label for a in answers]) == self.labels))

    @property
    def escalated(self) -> list[int]:
        return [i for i, a in enumerate(self.cascade) if a.escalated]

    @property
    def stayed(self) -> list[int]:
        return [i for i, a in enumerate(self.cascade) if not a.escalated]


def measure_accuracy(
    cascade: Client, large: Client, bodies: list[bytes], labels: np.ndarray
) -> Accuracy:
    started = time.perf_counter()
    answers: tuple[list[Answer], list[Answer]] = ([], [])
    for body in bodies:
        if time.perf_counter() - started > MAX_PHASE_S:
            raise SystemExit(f"the held-out digits took more than {MAX_PHASE_S:.0f} s")
        answers[0].append(cascade.infer(body))
        answers[1].append(large.infer(body))
    return Accuracy(answers[0], answers[1], labels)


def accuracy_rows(result: Accuracy, names: dict[str, str], offline: set[int]) -> list[Row]:
    rows = len(result.labels)
    cascade, large = result.accuracy(result.cascade), result.accuracy(result.large)
    gap = (cascade - large) * 100
    escalated = len(result.escalated)
    wrong_model = sum((a.model == names["large"]) != a.escalated for a in result.cascade)
    failures = sum(a.tier_failure is not None for a in result.cascade)
    return [
        (
            f"accuracy on the {rows} held-out digits (one-row requests)",
            f"{cascade:.4f}",
            f"{large:.4f} (large alone)",
            f"{gap:+.2f} points",
            ">= -0.50 points",
            ok(gap >= -ACCURACY_WITHIN * 100),
        ),
        (
            "escalated (`parameters.escalated`)",
            f"{escalated} ({escalated / rows:.1%})",
            "",
            "",
            f"<= {MAX_ESCALATED:.0%}",
            ok(escalated / rows <= MAX_ESCALATED),
        ),
        (
            "rows escalated other than those `modelstack evaluate` escalates",
            str(len(offline.symmetric_difference(result.escalated))),
            "",
            "",
            "0",
            ok(offline == set(result.escalated)),
        ),
        (
            "answers whose model_name disagrees with `escalated`",
            str(wrong_model),
            "",
            "",
            "0",
            ok(wrong_model == 0),
        ),
        ("tier failures answered by the fallback", str(failures), "", "", "0", ok(failures == 0)),
    ]


@dataclass
class Pairs:
    """Latencies of the same requests to two services, interleaved, cut into rounds."""

    first: list[list[float]]
    second: list[list[float]]
    bounded: bool

    def pooled(self, side: list[list[float]]) -> list[float]:
        return [s for block in side for s in block]

    def round_ratios(self) -> list[float]:
        return [
            percentile(a, 50) / percentile(b, 50)
            for a, b in zip(self.first, self.second, strict=True)
            if a and b
        ]


def interleave(
    first: Client, second: Client, bodies: list[bytes], pairs: int, rounds: int, check: Any = None
) -> Pairs:
    """`pairs` requests to each, alternating which goes first; `check(answer)` on the first
    client's answers may refuse one (SystemExit)."""
    result = Pairs([[] for _ in range(rounds)], [[] for _ in range(rounds)], False)
    started = time.perf_counter()
    per_round = max(1, pairs // rounds)
    for index in range(pairs):
        if time.perf_counter() - started > MAX_PHASE_S:
            result.bounded = True
            break
        body = bodies[index % len(bodies)]
        block = min(index // per_round, rounds - 1)
        order = (first, second) if index % 2 == 0 else (second, first)
        for client in order:
            answer = client.infer(body)
            if client is first and check is not None:
                check(answer)
            side = result.first if client is first else result.second
            side[block].append(answer.seconds)
    return result


def latency_rows(label: str, what: tuple[str, str], measured: Pairs, goal: bool) -> list[Row]:
    first, second = measured.pooled(measured.first), measured.pooled(measured.second)
    p50 = (percentile(first, 50), percentile(second, 50))
    ratio = p50[0] / p50[1]
    ratios = measured.round_ratios()
    rounds = (
        (f"; rounds: median {statistics.median(ratios):.2f}x, {min(ratios):.2f}-{max(ratios):.2f}x")
        if ratios
        else ""
    )
    return [
        (
            f"{label}, p50 ({len(first)} requests each, interleaved{rounds})",
            ms(p50[0]),
            f"{ms(p50[1])} ({what[1]})",
            f"{ratio:.2f}x",
            f"<= {MAX_P50_RATIO}x" if goal else "",
            ok(ratio <= MAX_P50_RATIO) if goal else "",
        ),
        (
            f"{label}, p99",
            ms(percentile(first, 99)),
            f"{ms(percentile(second, 99))} ({what[1]})",
            f"{percentile(first, 99) / percentile(second, 99):.2f}x",
            "",
            "",
        ),
    ]


def dataplane_row(services: Services, bodies: list[bytes], rounds: int) -> Row:
    """Where a request that stays pays for routing: the same data planes in this process (no
    HTTP, no router), with and without the `routing` object, in alternating blocks."""
    from modelstack.manifest import load_manifest
    from modelstack.routing.runtime_json import DeployedTier, runtime_routing
    from modelstack.routing.spec import routing_of
    from modelstack.smoke.local import prepare_local
    from modelstack_runtime.dataplane import load_dataplane

    entry, plain = load_manifest(services.small), load_manifest(services.plain)
    spec = routing_of(entry)
    assert spec is not None
    tier = DeployedTier(f"http://127.0.0.1:{services.ports['large']}", services.names["large"])
    routing = runtime_routing(spec, {"large": tier})
    planes = {
        entry.name: load_dataplane(prepare_local(entry, routing=routing).config),
        plain.name: load_dataplane(prepare_local(plain).config),
    }
    medians: dict[str, list[float]] = {name: [] for name in planes}
    started = time.perf_counter()
    for index in range(2 * rounds):
        if time.perf_counter() - started > MAX_PHASE_S:
            break
        for name in list(planes)[:: 1 if index % 2 == 0 else -1]:
            times = []
            for body in bodies[:500]:
                began = time.perf_counter()
                planes[name].infer(name, body, None, "application/json", headers={})
                times.append(time.perf_counter() - began)
            medians[name].append(statistics.median(times))
    routed, alone = (statistics.median(medians[n]) for n in planes)
    return (
        f"not escalated, the data plane alone in this process (median of "
        f"{len(medians[entry.name])} blocks of {min(len(bodies), 500)})",
        f"{routed * 1e6:.0f} µs",
        f"{alone * 1e6:.0f} µs (without routing)",
        f"{routed / alone:.2f}x",
        "",
        "",
    )


def warm_up(clients: list[Client], body: bytes, count: int = 50) -> None:
    for _ in range(count):
        for client in clients:
            client.infer(body)


def measure(services: Services, pairs: int, rounds: int) -> tuple[list[Row], list[str]]:
    names, ports = services.names, services.ports
    cascade = Client(ports["small"], names["small"])
    large = Client(ports["large"], names["large"])
    plain = Client(ports["plain"], names["plain"])
    notes: list[str] = []
    try:
        bodies, pixels, labels = held_out()
        warm_up([cascade, large, plain], bodies[0])
        result = measure_accuracy(cascade, large, bodies, labels)
        rows = accuracy_rows(result, names, offline_escalated(services.small, pixels))

        def stays(answer: Answer) -> None:
            if answer.escalated:
                raise SystemExit("a digit the cascade kept at first was escalated later")

        stayed = [bodies[i] for i in result.stayed]
        kept = interleave(cascade, plain, stayed, pairs, rounds, stays)
        rows += latency_rows(
            "not escalated: cascade / small without routing",
            ("cascade", "small without routing"),
            kept,
            goal=True,
        )
        rows.append(dataplane_row(services, stayed, rounds))
        escalated = [bodies[i] for i in result.escalated]
        if escalated:
            hops = interleave(cascade, large, escalated, min(pairs, 10 * len(escalated)), 1)
            rows += latency_rows(
                "escalated: cascade / large direct", ("cascade", "large direct"), hops, goal=False
            )
            notes += ["the escalated rows ran out of time"] if hops.bounded else []
        notes += ["the not-escalated pairs ran out of time"] if kept.bounded else []
    finally:
        for client in (cascade, large, plain):
            client.close()
    return rows, notes


# --- main ------------------------------------------------------------------------------------


def image_ids(repositories: set[str]) -> set[str]:
    found = subprocess.run(
        ["docker", "image", "ls", "--no-trunc", "--format", "{{.ID}} {{.Repository}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.split("\n")
    return {line.split()[0] for line in found if line.strip() and line.split()[-1] in repositories}


def cleanup(commands: list[Commands], repositories: set[str], images_before: set[str]) -> None:
    for command in commands:  # the entries first, then the tier
        command.destroy()
    created = image_ids(repositories) - images_before
    if created:
        subprocess.run(
            ["docker", "image", "rm", "-f", *created], capture_output=True, timeout=120, check=False
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--base-image",
        default=os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm"),
    )
    parser.add_argument(
        "--ca-bundle",
        default=os.environ.get("MODELSTACK_CA_BUNDLE"),
        help="CA bundle for pip in the builder stage",
    )
    parser.add_argument(
        "--prefix",
        default="bench-cascade",
        help="services are named PREFIX-small, PREFIX-large, PREFIX-plain",
    )
    parser.add_argument(
        "--pairs", type=int, default=2000, help="not-escalated requests to each service (100-20000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds the pairs are cut into")
    args = parser.parse_args()
    pairs = max(100, min(args.pairs, 20_000))
    rounds = max(1, min(args.rounds, 50))
    for role in ("small", "large", "plain"):
        label = f"dev.modelstack.target={args.prefix}-{role}.local"
        if docker_lines("ps", "-aq", "--filter", f"label={label}"):
            raise SystemExit(f"containers labelled {label} exist already; pass another --prefix")
    build_flags = ["--base-image", args.base_image]
    if args.ca_bundle:
        build_flags += ["--ca-bundle", args.ca_bundle]
    repositories = {f"modelstack/{args.prefix}-{role}" for role in ("small", "large", "plain")}
    images_before = image_ids(repositories)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    with tempfile.TemporaryDirectory(prefix="modelstack-bench-routing-") as tmp:
        services = prepare(Path(tmp), args.prefix)
        commands = [
            Commands(m, build_flags) for m in (services.small, services.plain, services.large)
        ]
        try:
            ups = []
            for command in commands[:2]:  # the entry deploys its tier first
                ups.append(command.up().seconds)
            rows, notes = measure(services, pairs, rounds)
        except KeyboardInterrupt:
            print("interrupted; cleaning up", file=sys.stderr)
            return 130
        finally:
            cleanup(commands, repositories, images_before)
    print(
        f"`modelstack up --target local`: cascade (large tier first) {ups[0]:.1f} s, "
        f"small without routing {ups[1]:.1f} s\n"
    )
    print("| measurement | cascade | baseline | ratio | goal | ok |")
    print("|---|---:|---:|---:|---:|:-:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for note in notes:
        print(f"\nNote: {note}")
    return 0 if all(row[5] != "no" for row in rows) else 1


def ok(passed: bool) -> str:
    return "yes" if passed else "no"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


if __name__ == "__main__":
    raise SystemExit(main())

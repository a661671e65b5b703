"""Fast start, decided at build time: the packed model, checked and measured.

`prepare_fast_start` packs the verified model (`packing.pack_model`), checks that the packed
model answers every smoke test and every row of the evaluation data sets (when the manifest
has them) bit-for-bit as the shipped one does, and measures whether
onnxruntime's weight prepacking pays for itself: the p50 inference latency over the smoke
inputs with and without `session.disable_prepacking`. Prepacking copies every weight into a
kernel-specific layout at session creation, which is most of the load time of a packed
model; it is switched off only when inference without it is at most `PREPACK_TOLERANCE`
times slower, still passes every smoke test, and stays within the smoke tests' default
tolerances (`atol`/`rtol` of an expectation that names none) of the shipped model's outputs:
the unpacked kernels sum in another order, so the last bits of a float may differ; anything
else must be equal.

The result is kept under `.modelstack/packed/<key>/` beside the manifest, keyed by everything
it depends on (model digest and external data files, runtime settings, smoke inputs,
onnxruntime version), so an unchanged bundle is not packed or measured again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import ModelError
from modelstack.image.optimize_choice import OptimizeChoice, choose_optimization
from modelstack.image.packing import PACK_FORMAT, PackedModel, move_packed, pack_model
from modelstack.manifest.model import Expectation, Manifest
from modelstack.modelfile import external_data_locations
from modelstack.smoke.local import LocalBundle

if TYPE_CHECKING:
    import numpy as np

    from modelstack_runtime.config import RuntimeConfig
    from modelstack_runtime.model import Model

__all__ = [
    "CACHE_DIR",
    "MEASURE_ROUNDS",
    "PREPACK_TOLERANCE",
    "FastStart",
    "PrepackingChoice",
    "evaluation_feeds",
    "prefer_without_prepacking",
    "prepare_fast_start",
]

CACHE_DIR: Final = Path(".modelstack") / "packed"
PREPACK_TOLERANCE: Final = 1.05
"""Prepacking is switched off only when inference without it is at most this much slower."""
MEASURE_ROUNDS: Final = 21
"""Timed runs of each smoke input per variant, interleaved (after one untimed run each)."""
_TOLERANCE: Final = Expectation()
MEASURE_BUDGET_S: Final = 20.0
"""Wall-clock bound on the timed runs of one variant."""
_RECORD: Final = "fast-start.json"

Feeds = list[dict[str, "np.ndarray"]]


@dataclass(frozen=True)
class PrepackingChoice:
    """The measured p50 latencies and whether the runtime disables prepacking."""

    disable: bool
    reason: str
    p50_ms_prepacked: float | None = None
    p50_ms_without: float | None = None


@dataclass(frozen=True)
class FastStart:
    packed: PackedModel
    prepacking: PrepackingChoice
    optimize: OptimizeChoice | None = None
    """Measured only when the manifest asks for `runtime.optimize_at_build`."""


def prefer_without_prepacking(p50_prepacked: float, p50_without: float) -> bool:
    """True when inference without prepacking is not slower than `PREPACK_TOLERANCE`x."""
    return p50_without <= PREPACK_TOLERANCE * p50_prepacked


def evaluation_feeds(manifest: Manifest, bundle: LocalBundle) -> list[dict[str, np.ndarray]]:
    """The evaluation data sets' inputs in `batch_size` batches (none without `evaluation:`)."""
    spec = manifest.evaluation
    if spec is None:
        return []
    from modelstack.evaluate.datasets import load_datasets

    feeds: list[dict[str, np.ndarray]] = []
    for dataset in load_datasets(manifest, bundle.signature):
        for start in range(0, dataset.rows, spec.batch_size):
            feeds.append({n: a[start : start + spec.batch_size] for n, a in dataset.inputs.items()})
    return feeds


def prepare_fast_start(
    bundle: LocalBundle,
    directory: Path,
    checks: Sequence[dict[str, np.ndarray]] = (),
    *,
    optimize: bool = False,
) -> FastStart:
    """The packed model of `bundle` and the prepacking choice, from the cache or made now.

    `checks` are further inputs (the evaluation data sets) on which the packed model must
    answer as the shipped one does; only the smoke inputs are timed. With `optimize`, whether
    graph optimisation at build pays is measured too (`optimize_choice`).
    """
    source = Path(bundle.config.model_path)
    folder = directory / CACHE_DIR / _cache_key(bundle, checks, optimize)[:32]
    cached = _read_cached(folder)
    if cached is not None:
        return cached
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".packing-") as tmp:
        packed = pack_model(source, Path(tmp), Path(source.name).stem)
        choice, optimized = _choose(bundle, packed, list(checks), optimize)
        packed = move_packed(packed, folder)
    result = FastStart(packed, choice, optimized)
    _write_record(folder, result)
    return result


def _choose(
    bundle: LocalBundle, packed: PackedModel, checks: Feeds, optimize: bool
) -> tuple[PrepackingChoice, OptimizeChoice | None]:
    from modelstack_runtime.model import Model

    config = bundle.config
    original = Model.load(config)
    feeds = [case.inputs for case in bundle.cases] or [original.synthetic_inputs()]
    expected = [original.infer(feed) for feed in feeds + checks]
    del original
    on = _load(config, packed, disable=False)
    if not _same([on.infer(feed) for feed in feeds + checks], expected):
        raise ModelError(
            f"'{Path(config.model_path).name}': the packed model's outputs differ from the "
            "shipped model's on the smoke inputs or the evaluation data; please report this "
            "with the model"
        )
    choice = _prepacking(bundle, packed, on, feeds, checks, expected)
    if not optimize:
        return choice, None

    def acceptable(outputs: Feeds) -> bool:
        return _close(outputs, expected) and _smoke_passes(bundle, outputs)

    chosen = dataclasses.replace(
        config, model_path=str(packed.graph), disable_prepacking=choice.disable
    )
    return choice, choose_optimization(chosen, feeds, checks, _p50_ms, acceptable)


def _prepacking(
    bundle: LocalBundle, packed: PackedModel, on: Model, feeds: Feeds, checks: Feeds,
    expected: Feeds,
) -> PrepackingChoice:  # fmt: skip
    if any(p != "CPUExecutionProvider" for p in bundle.config.execution_providers):
        return PrepackingChoice(False, "not measured for accelerator execution providers")
    off = _load(bundle.config, packed, disable=True)
    outputs = [off.infer(feed) for feed in feeds + checks]
    p50_on, p50_off = _p50_ms(on, off, feeds)
    if not _close(outputs, expected) or not _smoke_passes(bundle, outputs):
        return PrepackingChoice(False, "outputs differ without prepacking", p50_on, p50_off)
    if prefer_without_prepacking(p50_on, p50_off):
        return PrepackingChoice(True, "not slower without prepacking", p50_on, p50_off)
    return PrepackingChoice(False, "slower without prepacking", p50_on, p50_off)


def _load(config: RuntimeConfig, packed: PackedModel, *, disable: bool) -> Model:
    from modelstack_runtime.model import Model

    variant = dataclasses.replace(
        config, model_path=str(packed.graph), optimized_model_path=None, disable_prepacking=disable
    )
    return Model.load(variant)


def _p50_ms(on: Model, off: Model, feeds: list[dict[str, np.ndarray]]) -> tuple[float, float]:
    """p50 latency in ms of each variant, runs interleaved so that both see the same load."""
    times: tuple[list[float], list[float]] = ([], [])
    deadline = time.monotonic() + MEASURE_BUDGET_S
    for _ in range(MEASURE_ROUNDS):
        for feed in feeds:
            for model, sink in ((on, times[0]), (off, times[1])):
                started = time.perf_counter()
                model.infer(feed)
                sink.append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline:
            break
    return round(statistics.median(times[0]), 4), round(statistics.median(times[1]), 4)


def _same(got: Sequence[dict[str, np.ndarray]], want: Sequence[dict[str, np.ndarray]]) -> bool:
    return _agree(got, want, exact=True)


def _close(got: Sequence[dict[str, np.ndarray]], want: Sequence[dict[str, np.ndarray]]) -> bool:
    return _agree(got, want, exact=False)


def _agree(
    got: Sequence[dict[str, np.ndarray]], want: Sequence[dict[str, np.ndarray]], *, exact: bool
) -> bool:
    import numpy as np

    for a, b in zip(got, want, strict=True):
        if a.keys() != b.keys():
            return False
        for name, value in a.items():
            other = b[name]
            if value.dtype == object or other.dtype == object:
                if value.tolist() != other.tolist():
                    return False
            elif value.shape != other.shape or value.dtype != other.dtype:
                return False
            elif exact or value.dtype.kind not in "fc":
                if not np.array_equal(value, other, equal_nan=value.dtype.kind in "fc"):
                    return False
            elif not np.allclose(
                value, other, rtol=_TOLERANCE.rtol, atol=_TOLERANCE.atol, equal_nan=True
            ):
                return False
    return True


def _smoke_passes(bundle: LocalBundle, outputs: Sequence[dict[str, np.ndarray]]) -> bool:
    from modelstack.smoke.compare import compare_outputs

    return all(
        not compare_outputs(case.test.expected_outputs, got)
        for case, got in zip(bundle.cases, outputs, strict=False)
    )


def _cache_key(bundle: LocalBundle, checks: Sequence[dict[str, np.ndarray]], optimize: bool) -> str:
    import onnxruntime

    source = Path(bundle.config.model_path)
    digest = hashlib.sha256(
        f"{PACK_FORMAT}\0{onnxruntime.__version__}\0optimize={optimize}\0".encode()
    )
    digest.update(source.name.encode() + b"\0")
    with source.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    for _where, location in external_data_locations(source):
        stat = (source.parent / location).stat()
        digest.update(f"{location}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    settings = bundle.config.to_dict()
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for feed in [case.inputs for case in bundle.cases] + list(checks):
        for name, array in sorted(feed.items()):
            digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
            digest.update(
                repr(array.tolist()).encode() if array.dtype == object else array.tobytes()
            )
    return digest.hexdigest()


def _read_cached(folder: Path) -> FastStart | None:
    try:
        data: dict[str, Any] = json.loads((folder / _RECORD).read_text(encoding="utf-8"))
        weights = folder / data["weights"] if data["weights"] else None
        packed = PackedModel(
            folder / data["graph"], weights, data["digest"], data["external_tensors"],
            data["weights_bytes"],
        )  # fmt: skip
        choice = PrepackingChoice(**data["prepacking"])
        optimized = OptimizeChoice(**data["optimize"]) if data.get("optimize") else None
    except (OSError, ValueError, KeyError, TypeError):
        shutil.rmtree(folder, ignore_errors=True)  # unreadable or partial: pack again
        return None
    if not all(path.is_file() for path in packed.files):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return FastStart(packed, choice, optimized)


def _write_record(folder: Path, result: FastStart) -> None:
    packed = result.packed
    data = {
        "graph": packed.graph.name,
        "weights": packed.weights.name if packed.weights else None,
        "digest": packed.digest,
        "external_tensors": packed.external_tensors,
        "weights_bytes": packed.weights_bytes,
        "prepacking": dataclasses.asdict(result.prepacking),
        "optimize": dataclasses.asdict(result.optimize) if result.optimize else None,
    }
    tmp = folder / f".{_RECORD}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(folder / _RECORD)

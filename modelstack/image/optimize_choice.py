"""Whether `runtime.optimize_at_build` pays for itself on this model, by measurement.

The graph-optimised model is written here with the same onnxruntime as the smoke tests and
compared with the packed model as the runtime would load each: session creation (the median
of `CREATE_ROUNDS`) and the p50 inference over the smoke inputs, runs interleaved. The image
is optimised only when that starts faster, infers no slower than `OPTIMIZE_TOLERANCE` times
and still passes the smoke tests, within the default tolerances of the shipped outputs.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np

    from modelstack_runtime.config import RuntimeConfig
    from modelstack_runtime.model import Model

__all__ = ["CREATE_ROUNDS", "OPTIMIZE_TOLERANCE", "OptimizeChoice", "choose_optimization"]

CREATE_ROUNDS: Final = 3
OPTIMIZE_TOLERANCE: Final = 1.05

Feeds = list[dict[str, "np.ndarray"]]


@dataclass(frozen=True)
class OptimizeChoice:
    """Whether the image is optimised at build, and the figures that decided it."""

    use: bool
    reason: str
    create_s_packed: float | None = None
    create_s_optimized: float | None = None
    p50_ms_packed: float | None = None
    p50_ms_optimized: float | None = None


def choose_optimization(
    packed_config: RuntimeConfig,
    feeds: Feeds,
    checks: Feeds,
    p50_ms: Callable[[Model, Model, Feeds], tuple[float, float]],
    acceptable: Callable[[Feeds], bool],
) -> OptimizeChoice:
    """Measure the packed model (`packed_config`) against its optimised form.

    `p50_ms` times two models on `feeds` (the smoke inputs), interleaved; `acceptable`
    checks the optimised model's outputs on `feeds + checks`.
    """
    from modelstack_runtime.model import Model, optimize_model

    with tempfile.TemporaryDirectory(prefix="modelstack-optimize-") as tmp:
        target = Path(tmp) / f"{Path(packed_config.model_path).stem}.optimized.onnx"
        optimize_model(packed_config, target)
        optimized_config = dataclasses.replace(packed_config, optimized_model_path=str(target))
        create_packed = _create_seconds(packed_config)
        create_optimized = _create_seconds(optimized_config)
        packed, optimized = Model.load(packed_config), Model.load(optimized_config)
        if not acceptable([optimized.infer(feed) for feed in feeds + checks]):
            return OptimizeChoice(False, "the optimised model's outputs differ",
                                  create_packed, create_optimized)  # fmt: skip
        p50_packed, p50_optimized = p50_ms(packed, optimized, feeds)
    figures = (create_packed, create_optimized, p50_packed, p50_optimized)
    if create_optimized >= create_packed:
        return OptimizeChoice(False, "the optimised model does not start faster", *figures)
    if p50_optimized > OPTIMIZE_TOLERANCE * p50_packed:
        return OptimizeChoice(False, "the optimised model infers slower", *figures)
    return OptimizeChoice(True, "the optimised model starts faster", *figures)


def _create_seconds(config: RuntimeConfig) -> float:
    from modelstack_runtime.model import Model

    times = []
    for _ in range(CREATE_ROUNDS):
        started = time.perf_counter()
        Model.load(config)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)

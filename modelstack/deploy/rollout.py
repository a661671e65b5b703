"""The gated rollout: a candidate with no traffic, pre-traffic smoke tests, traffic steps with
health checks, then promotion. On any failure or interrupt after the candidate exists, traffic
returns to the last good release (when rollback_on_failure is set; always on interrupt)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelstack.deploy.engine import Engine
from modelstack.deploy.progress import Progress
from modelstack.deploy.release import Release
from modelstack.deploy.state import DeployState, StateStore
from modelstack.errors import ModelstackError, SmokeTestError
from modelstack.manifest.model import RolloutSpec
from modelstack.signals import shielded
from modelstack.smoke.cases import SmokeCase
from modelstack.smoke.clients import InferenceClient
from modelstack.smoke.report import format_report
from modelstack.smoke.runner import SmokeReport, run_smoke_tests

__all__ = ["Interrupted", "RolloutResult", "recover", "roll_out", "traffic_steps"]


class Interrupted(ModelstackError):
    """Ctrl-C or SIGTERM arrived; traffic was returned to the last good release."""

    exit_code = 130


@dataclass(frozen=True)
class RolloutResult:
    release: Release
    smoke: SmokeReport | None = None


def traffic_steps(rollout: RolloutSpec, has_stable: bool) -> list[int]:
    """The candidate's traffic percentages in order; a first deploy goes straight to 100."""
    if not has_stable or rollout.strategy == "all-at-once":
        return [100]
    steps = [s for s in rollout.steps if 0 < s < 100]
    return [*steps, 100]  # lint (MS601) wants 100 last; never record 100% without setting it


def recover(engine: Engine, store: StateStore, progress: Progress) -> DeployState:
    """After a crash or kill mid-rollout, put traffic back on the stable release."""
    state = store.load()
    if state.step == "idle":
        return state
    if state.candidate is None:
        # Stopped while retiring the previous release: the stable one serves; finish the job.
        if state.stable is not None:
            _promote(engine, store, state.stable, None, progress)
        store.save(state := store.load().with_(step="idle"))
        return state
    progress.start(f"recover from an interrupted run (it stopped during '{state.step}')")
    engine.abandon(state.stable, state.candidate)
    store.record(
        {
            "event": "recovered",
            "version": state.candidate.version,
            "step": state.step,
            "digest": state.candidate.digest,
            "result": "rolled back",
        }
    )
    state = state.with_(candidate=None, candidate_percent=0, step="idle")
    store.save(state)
    stable = state.stable.version if state.stable else "none"
    progress.done(f"traffic is on stable version {stable}")
    return state


def roll_out(
    engine: Engine,
    store: StateStore,
    release: Release,
    cases: Sequence[SmokeCase],
    rollout: RolloutSpec,
    progress: Progress,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> RolloutResult:
    """Deploy `release` as a candidate and move traffic to it, or leave traffic where it was."""
    state = store.load()
    stable = state.stable
    state = state.with_(
        candidate=release,
        candidate_percent=0,
        step="deploy candidate",
        next_version=max(state.next_version, int(release.version) + 1)
        if release.version.isdigit()
        else state.next_version,
    )
    store.save(state)
    smoke: SmokeReport | None = None
    try:
        release, smoke = _shift_traffic(
            engine, store, state, release, cases, rollout, progress, sleep
        )
    except KeyboardInterrupt:
        progress.abort("interrupted")
        _roll_back(engine, store, stable, release, progress, "interrupted")
        raise Interrupted(
            "interrupted; traffic is back on "
            + (f"version {stable.version}" if stable else "no version (first deploy)")
        ) from None
    except Exception as exc:  # any failure, ours or not, must not leave traffic on the candidate
        progress.abort(str(exc) or type(exc).__name__)
        if rollout.rollback_on_failure or not isinstance(exc, ModelstackError):
            _roll_back(engine, store, stable, release, progress, "failed")
        else:
            store.save(store.load().with_(step="halted"))
            store.record(_event("deploy", release, f"failed, left in place: {exc}"))
        raise
    with shielded():  # from here the new release is stable: no interrupt may undo half of it
        _commit(engine, store, release, stable)
        _promote(engine, store, release, stable, progress)
    return RolloutResult(release, smoke)


def _commit(engine: Engine, store: StateStore, release: Release, stable: Release | None) -> None:
    """Record `release` as stable before anything is retired, so nothing can route back to a
    release that is being removed."""
    state = store.load()
    previous = ([stable] if stable else []) + [r for r in state.previous if r != stable]
    store.save(
        state.with_(
            stable=release,
            candidate=None,
            candidate_percent=0,
            step="retire previous",
            previous=previous[:20],
            endpoint=engine.endpoint(),
        )
    )
    store.record(_event("deploy", release, "succeeded"))


def _shift_traffic(
    engine: Engine,
    store: StateStore,
    state: DeployState,
    release: Release,
    cases: Sequence[SmokeCase],
    rollout: RolloutSpec,
    progress: Progress,
    sleep: Callable[[float], None],
) -> tuple[Release, SmokeReport]:
    """Candidate, pre-traffic smoke tests, then every traffic step up to 100%."""
    stable = state.stable
    progress.start(f"deploy candidate version {release.version} with 0% traffic")
    release = engine.deploy_candidate(release, stable)
    store.save(state := state.with_(candidate=release))
    progress.done(release.image)

    progress.start("pre-traffic smoke tests against the candidate")
    store.save(state := state.with_(step="pre-traffic smoke tests"))
    smoke = _smoke(engine.candidate_client(release), cases, progress)
    state = state.with_(last_smoke=_smoke_summary(smoke))

    for percent in traffic_steps(rollout, stable is not None):
        progress.start(f"shift {percent}% of traffic to version {release.version}")
        store.save(state := state.with_(step=f"traffic {percent}%"))
        engine.set_traffic(stable, release, percent)
        store.save(state := state.with_(candidate_percent=percent))
        progress.done(f"endpoint {engine.endpoint()}")
        if percent < 100:
            _watch(engine, release, cases, rollout, progress, sleep)

    return release, smoke


def _promote(
    engine: Engine,
    store: StateStore,
    release: Release,
    retired: Release | None,
    progress: Progress,
) -> None:
    """Retire the previous release; the new one already serves, so failures here only warn."""
    progress.start(f"promote version {release.version}")
    try:
        engine.promote(release, retired)
    except Exception as exc:
        progress.fail(f"version {release.version} serves, but retiring the old one failed: {exc}")
    else:
        progress.done(f"version {release.version} serves 100% at {engine.endpoint()}")
    store.save(store.load().with_(step="idle"))


def _smoke(client: InferenceClient, cases: Sequence[SmokeCase], progress: Progress) -> SmokeReport:
    try:
        report = run_smoke_tests(cases, client)
    finally:
        client.close()
    for line in format_report(report, "text", "candidate").splitlines()[1:]:
        progress.note(line)
    if not report.passed:
        raise SmokeTestError(
            f"{len(report.failures)} smoke test(s) failed against the candidate:\n"
            + format_report(report, "text", "candidate")
        )
    progress.done(f"{len(report.results)} passed")
    return report


def _watch(
    engine: Engine,
    release: Release,
    cases: Sequence[SmokeCase],
    rollout: RolloutSpec,
    progress: Progress,
    sleep: Callable[[float], None],
) -> None:
    """Wait the interval, then check the candidate's error rate and its smoke tests again."""
    progress.start(f"watch for {rollout.interval_s} s: error rate and smoke tests")
    sleep(rollout.interval_s)
    rate = engine.error_rate(release)
    if rate is None:
        progress.note("no error-rate signal for this step; the smoke tests decide it")
    elif rate > rollout.max_error_rate:
        raise SmokeTestError(
            f"version {release.version} failed {rate:.1%} of its requests, above the allowed "
            f"{rollout.max_error_rate:.1%}"
        )
    _smoke(engine.candidate_client(release), cases, progress)


def _roll_back(
    engine: Engine,
    store: StateStore,
    stable: Release | None,
    failed: Release,
    progress: Progress,
    why: str,
) -> None:
    progress.start(f"roll back: traffic to {f'version {stable.version}' if stable else 'none'}")
    with shielded():
        engine.abandon(stable, failed)
    state = store.load()
    store.save(state.with_(candidate=None, candidate_percent=0, step="idle"))
    store.record(_event("deploy", failed, f"{why}, rolled back"))
    progress.done()


def _event(kind: str, release: Release, result: str) -> dict[str, object]:
    event: dict[str, object] = {
        "event": kind,
        "version": release.version,
        "model_version": release.model_version,
        "image": release.image,
        "digest": release.digest,
        "result": result,
    }
    if release.evaluation is not None:
        event["metrics"] = release.evaluation.get("metrics", {})
    return event


def _smoke_summary(report: SmokeReport) -> list[dict[str, object]]:
    return [
        {"name": r.name, "passed": r.passed, "latency_ms": round(r.latency_ms, 3)}
        for r in report.results
    ]

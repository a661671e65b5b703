from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from fake_engine import FakeEngine

from modelstack.deploy.progress import Progress
from modelstack.deploy.release import Release
from modelstack.deploy.rollout import Interrupted, recover, roll_out, traffic_steps
from modelstack.deploy.state import StateStore
from modelstack.errors import InfrastructureError, SmokeTestError
from modelstack.manifest import Manifest
from modelstack.manifest.model import RolloutSpec
from modelstack.smoke.cases import SmokeCase

CANARY = RolloutSpec(strategy="canary", steps=(10, 50, 100), interval_s=7)


def release(version: str, model_version: str = "1.0.0") -> Release:
    return Release(version, f"repo@sha256:{version * 64}"[:76], model_version, "m" * 64, "f" * 64)


def quiet() -> Progress:
    return Progress(stream=io.StringIO())


def deploy(
    engine: FakeEngine,
    store: StateStore,
    cases: list[SmokeCase],
    rel: Release,
    rollout: RolloutSpec = CANARY,
) -> list[float]:
    sleeps: list[float] = []
    roll_out(engine, store, rel, cases, rollout, quiet(), sleep=sleeps.append)
    return sleeps


@pytest.fixture
def store(iris_bundle: Path) -> StateStore:
    return StateStore(iris_bundle, "local")


def test_first_deploy_goes_straight_to_full_traffic(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    sleeps = deploy(engine, store, iris_cases, release("1"))
    assert engine.calls == [("deploy", "1"), ("traffic", "1", "100"), ("promote", "1")]
    assert sleeps == []
    state = store.load()
    assert state.stable == release("1") and state.candidate is None and state.step == "idle"
    assert [e["result"] for e in store.history()] == ["succeeded"]


def test_canary_walks_the_steps_and_waits_between_them(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    sleeps = deploy(engine, store, iris_cases, release("2"))
    traffic = [c for c in engine.calls if c[0] == "traffic" and c[1] == "2"]
    assert traffic == [("traffic", "2", "10"), ("traffic", "2", "50"), ("traffic", "2", "100")]
    assert sleeps == [7, 7]
    state = store.load()
    assert state.stable == release("2") and state.previous == [release("1")]


def test_failing_pre_traffic_smoke_tests_never_give_the_candidate_traffic(
    store, iris_cases, iris_client
) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    with pytest.raises(SmokeTestError, match=r"expected .* got"):
        deploy(engine, store, iris_cases, release("2", model_version="broken"))
    assert not [c for c in engine.calls if c[0] == "traffic" and c[1] == "2"]
    assert engine.calls[-1] == ("abandon", "2")
    assert engine.traffic == {"1": 100}
    state = store.load()
    assert state.stable == release("1") and state.candidate is None and state.step == "idle"
    assert store.history()[-1]["result"] == "failed, rolled back"


def test_canary_failing_midway_is_rolled_back(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client, error_rates={"2": 0.5})
    deploy(engine, store, iris_cases, release("1"))
    with pytest.raises(SmokeTestError, match=r"failed 50\.0% of its requests"):
        deploy(engine, store, iris_cases, release("2"))
    assert ("traffic", "2", "10") in engine.calls
    assert ("traffic", "2", "50") not in engine.calls
    assert engine.traffic == {"1": 100}
    assert store.load().stable == release("1")


def test_interrupt_returns_traffic_to_stable(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    engine.interrupt_on = "traffic 2 50"
    with pytest.raises(Interrupted, match="back on version 1"):
        deploy(engine, store, iris_cases, release("2"))
    assert engine.traffic == {"1": 100}
    state = store.load()
    assert state.step == "idle" and state.candidate is None and state.stable == release("1")


def test_infrastructure_failure_mid_rollout_rolls_back(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    engine.fail_on = "traffic 2 50"
    with pytest.raises(InfrastructureError, match="injected"):
        deploy(engine, store, iris_cases, release("2"))
    assert engine.traffic == {"1": 100}
    assert store.load().stable == release("1") and store.load().step == "idle"


def test_an_unexpected_error_rolls_back_too(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    original = engine.set_traffic

    def broken(stable, candidate, percent):
        original(stable, candidate, percent)
        if percent == 50:
            raise OSError("disk full")

    engine.set_traffic = broken  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk full"):
        deploy(engine, store, iris_cases, release("2"), replace(CANARY, rollback_on_failure=False))
    assert engine.traffic == {"1": 100}
    assert store.load().candidate is None and store.load().stable == release("1")


def test_a_failure_while_retiring_the_old_release_keeps_the_new_one(
    store, iris_cases, iris_client
) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    engine.fail_on = "promote 2"
    deploy(engine, store, iris_cases, release("2"))  # no exception: version 2 already serves
    assert ("abandon", "2") not in engine.calls
    state = store.load()
    assert state.stable == release("2") and state.step == "idle"
    assert store.history()[-1]["result"] == "succeeded"


def test_recover_after_a_crash_while_retiring(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    store.save(store.load().with_(step="retire previous"))
    engine.calls.clear()
    state = recover(engine, store, quiet())
    assert state.step == "idle" and state.stable == release("1")
    assert engine.calls == [("promote", "1")]  # the interrupted retirement is finished


def test_without_rollback_on_failure_the_state_says_halted(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client, error_rates={"2": 1.0})
    deploy(engine, store, iris_cases, release("1"))
    with pytest.raises(SmokeTestError):
        deploy(engine, store, iris_cases, release("2"), replace(CANARY, rollback_on_failure=False))
    assert ("abandon", "2") not in engine.calls
    assert store.load().step == "halted"
    recover(engine, store, quiet())
    assert engine.calls[-1] == ("abandon", "2")
    assert store.load().step == "idle" and engine.traffic == {"1": 100}


def test_recover_after_a_crash_mid_rollout(store, iris_cases, iris_client) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    # What a kill -9 during the 10% step leaves behind.
    store.save(store.load().with_(candidate=release("2"), candidate_percent=10, step="traffic 10%"))
    engine.traffic = {"1": 90, "2": 10}
    state = recover(engine, store, quiet())
    assert engine.traffic == {"1": 100}
    assert state.candidate is None and state.step == "idle" and state.stable == release("1")
    assert store.history()[-1]["event"] == "recovered"


def test_recover_is_a_no_op_when_idle(store, iris_client) -> None:
    engine = FakeEngine(iris_client)
    recover(engine, store, quiet())
    assert engine.calls == []


@pytest.mark.parametrize(
    ("strategy", "steps", "has_stable", "expected"),
    [
        ("canary", (10, 50, 100), True, [10, 50, 100]),
        ("canary", (10, 50, 100), False, [100]),
        ("all-at-once", (10, 50, 100), True, [100]),
        ("linear", (25, 50), True, [25, 50, 100]),  # a manifest lint would refuse (MS601)
    ],
)
def test_traffic_steps(
    strategy: str, steps: tuple[int, ...], has_stable: bool, expected: list[int]
) -> None:
    spec = RolloutSpec(strategy=strategy, steps=steps)
    assert traffic_steps(spec, has_stable) == expected


def test_state_file_is_never_torn(store, iris: Manifest) -> None:
    store.save(store.load().with_(stable=release("3")))
    leftovers = [p for p in store.state_path.parent.iterdir() if ".tmp." in p.name]
    assert leftovers == []
    assert store.load().stable == release("3")


def test_a_second_deploy_of_the_same_target_is_refused_while_locked(store) -> None:
    from modelstack.errors import UsageError

    second = StateStore(store.root.parent, "local")
    with store.locked(), pytest.raises(UsageError, match="another modelstack command"):
        second.locked().__enter__()


def test_an_interrupt_before_the_commit_leaves_the_old_release_stable(
    store, iris_cases, iris_client
) -> None:
    engine = FakeEngine(iris_client)
    deploy(engine, store, iris_cases, release("1"))
    engine.interrupt_on = "traffic 2 100"
    with pytest.raises(Interrupted):
        deploy(engine, store, iris_cases, release("2"))
    state = store.load()
    assert state.stable == release("1") and state.candidate is None
    assert engine.traffic == {"1": 100}
    assert [e["result"] for e in store.history()][-1] == "interrupted, rolled back"

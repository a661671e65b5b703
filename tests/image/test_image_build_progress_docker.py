"""Build progress on the real Docker engine: a line per step, the log kept, its tail on failure."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from imagefixtures import BASE_IMAGE, DOCKER, REGISTRY

from modelstack.errors import InfrastructureError
from modelstack.image.build_log import BuildLog
from modelstack.image.builder import build_image
from modelstack.image.push import push_image
from modelstack.image.registries import Destination

pytestmark = DOCKER
NAMESPACE = f"modelstack-test-{uuid.uuid4().hex[:8]}"

FAILING = f"""\
FROM {BASE_IMAGE}
RUN printf '\\033[32mcoloured line\\033[0m\\n'
RUN printf '\\033[1mabout to fail\\033[0m\\n' && exit 7
"""


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    engine = docker.from_env()
    yield engine
    engine.close()


def context(tmp_path: Path, dockerfile: str) -> Path:
    directory = tmp_path / "context"
    directory.mkdir()
    (directory / "Dockerfile").write_text(dockerfile)
    return directory


def test_a_failing_step_shows_the_tail_and_the_log_path_without_escape_codes(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    lines: list[str] = []
    verbose = io.StringIO()  # not a terminal, like a CI log
    log = BuildLog(tmp_path / "logs", "modelstack/fails:1", report=lines.append, verbose=verbose)
    with pytest.raises(InfrastructureError) as info:
        build_image(client, context(tmp_path, FAILING), "modelstack/fails:1", log=log)
    message = str(info.value)
    assert "building modelstack/fails:1 failed at step 3/3 RUN printf" in message
    assert "about to fail" in message  # the tail
    (saved,) = (tmp_path / "logs").glob("build-*.log")
    assert f"full log: {saved}" in message
    assert "coloured line" in saved.read_text() and "about to fail" in saved.read_text()
    assert [line.split(" (")[0] for line in lines] == [
        f"step 1/3 FROM {BASE_IMAGE}",
        "step 2/3 RUN printf '\\033[32mcoloured line\\033[0m\\n'",
    ]
    for text in (message, verbose.getvalue(), saved.read_text(), *lines):
        assert "\x1b" not in text
    assert "coloured line" in verbose.getvalue()


def test_a_quiet_build_reports_steps_and_streams_nothing_raw(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    lines: list[str] = []
    log = BuildLog(tmp_path / "logs", "modelstack/steps:1", report=lines.append)
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo stepout | rev\nLABEL x=y\n"
    try:
        image_id = build_image(
            client,
            context(tmp_path, dockerfile),
            "modelstack/steps:1",
            log=log,
            labels={"org.opencontainers.image.revision": "abc"},
        )
        labels = client.api.inspect_image(image_id)["Config"]["Labels"]
    finally:
        client.api.remove_image("modelstack/steps:1", force=True)
    assert labels["org.opencontainers.image.revision"] == "abc"  # set beside the context
    assert [line.split(" (")[0] for line in lines] == [
        f"step 1/4 FROM {BASE_IMAGE}",
        "step 2/4 RUN echo stepout | rev",
        "step 3/4 LABEL x=y",
        "step 4/4 LABEL org.opencontainers.image.revision=abc",  # the engine adds it last
    ]
    assert not any("tuopets" in line for line in lines)  # what the step printed
    (saved,) = (tmp_path / "logs").glob("build-*.log")
    assert "tuopets" in saved.read_text()


def test_push_progress_in_a_ci_log_is_one_plain_line_per_layer(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    tag = f"modelstack/pushed:{uuid.uuid4().hex[:12]}"
    dockerfile = f"FROM {BASE_IMAGE}\nRUN echo {uuid.uuid4().hex} > /fresh-layer\n"
    build_image(client, context(tmp_path, dockerfile), tag)
    out = io.StringIO()  # not a terminal
    where = Destination(repository=f"{REGISTRY}/{NAMESPACE}/pushed")
    try:
        layers = client.api.inspect_image(tag)["RootFS"]["Layers"]
        pushed = push_image(client, tag, where, "t", stream=out)
    finally:
        client.api.remove_image(tag, force=True)
    assert pushed.digest.startswith("sha256:")
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == len(layers) + 1, lines
    layer_line = re.compile(r"^layer [0-9a-f]{12} (pushed|already in the registry); ")
    assert all(layer_line.match(line) for line in lines[:-1]), lines
    count = len(layers)
    total = re.compile(
        rf"^pushed: {count}/{count} layers \(\d+ already in the registry\), "
        r"\d+\.\d MiB of \d+\.\d MiB sent$"
    )
    assert total.match(lines[-1]), lines[-1]
    assert any(" pushed; " in line for line in lines)  # the fresh layer was sent

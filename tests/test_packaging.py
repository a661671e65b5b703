"""The distribution: it builds, passes `twine check --strict`, and carries what it needs."""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
VERSION = PROJECT["version"]
DISTRIBUTION = "modelstack-serverless"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel of this checkout (hatchling from the environment, no download)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return out


def wheel(dist: Path) -> Path:
    [found] = dist.glob("*.whl")
    return found


def test_twine_check_strict_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert len(files) == 2  # one sdist, one wheel
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_carries_data_typing_markers_and_the_license(dist: Path) -> None:
    names = set(zipfile.ZipFile(wheel(dist)).namelist())
    info = f"modelstack_serverless-{VERSION}.dist-info"
    for required in (
        "modelstack/py.typed",
        "modelstack_runtime/py.typed",
        "modelstack/_data/schemas/modelstack.v1.schema.json",
        "modelstack/_data/templates/lambda.Dockerfile",
        "modelstack/_data/templates/cloudrun-gpu.Dockerfile",
        f"{info}/licenses/LICENSE",
    ):
        assert required in names, required
    templates = {p.name for p in (ROOT / "templates").iterdir() if p.is_file()}
    assert {n.rpartition("/")[2] for n in names if "/_data/templates/" in n} == templates


def test_the_metadata(dist: Path) -> None:
    with zipfile.ZipFile(wheel(dist)) as archive:
        info = f"modelstack_serverless-{VERSION}.dist-info"
        meta = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        scripts = archive.read(f"{info}/entry_points.txt").decode()
    assert (meta["Name"], meta["Version"]) == (DISTRIBUTION, VERSION)
    assert meta["Description-Content-Type"] == "text/markdown"  # PyPI renders the README
    assert meta["License-Expression"] == "Apache-2.0"
    classifiers = meta.get_all("Classifier")
    for classifier in ("Typing :: Typed", "Development Status :: 3 - Alpha"):
        assert classifier in classifiers
    assert {f"Programming Language :: Python :: 3.{v}" for v in (10, 11, 12, 13)} <= set(
        classifiers
    )
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Source", "Issues", "Changelog", "Documentation"}
    assert all(u.startswith("https://github.com/modelstack/modelstack") for u in urls.values())
    runtime = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in runtime if r.startswith("jsonschema")]  # nothing imports it at run time
    assert "modelstack = modelstack.cli:main" in scripts


def test_the_license_is_the_apache_2_0_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX" in text
    assert PROJECT["license"] == "Apache-2.0"


def test_the_installed_version_comes_from_the_metadata(dist: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(target), str(wheel(dist))],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    probe = "import modelstack, sys; print(modelstack.__version__, modelstack.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    version, where = result.stdout.split()
    assert version == VERSION
    assert Path(where).is_relative_to(target)


def test_one_version_literal_in_the_package() -> None:
    source = (ROOT / "modelstack").rglob("*.py")
    literal = re.compile(r"__version__\s*=\s*[\"']")
    assert not [p for p in source if literal.search(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize(
    "path", ["examples/ci/deploy.yml", "examples/pulumi-existing-stack/requirements.txt"]
)
def test_examples_install_the_pinned_distribution(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert f"{DISTRIBUTION}[aws]=={VERSION}" in text
    assert not re.search(r"(?<![\w-])modelstack\[", text)  # the unrelated PyPI project


def test_readme_links_work_on_pypi() -> None:
    """PyPI shows the README without the repository: every link must be absolute."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = re.findall(r"\]\((?!https?://|#|mailto:)([^)]+)\)", text)
    assert relative == []


def test_the_changelog_keeps_its_structure() -> None:
    """Keep a Changelog: Unreleased first, dated versions, each kind once per version, and a
    link reference for every version."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert versions[0] == "Unreleased" and VERSION in versions
    assert re.search(rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)
    kinds = ["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"]
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        headings = re.findall(r"^### (.+)$", section, re.M)
        assert headings == sorted(set(headings), key=kinds.index), section.splitlines()[0]
    for version in versions:
        assert re.search(rf"^\[{re.escape(version)}\]: https://github\.com/", text, re.M), version

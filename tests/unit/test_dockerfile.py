"""The Dockerfile against the repository: two stages (the wheel built, then installed alone),
non-root user 10001, writable paths only under /tmp and /data for a read-only root filesystem,
every package the wheel needs copied in. tests/contract/test_deploy_bundle.py holds the
Kubernetes bundle to the same user and paths."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in joined.splitlines())
        if line and not line.startswith("#")
    ]


def test_two_stages_the_wheel_built_then_installed() -> None:
    stages = [arg for op, arg in _instructions() if op == "FROM"]
    assert [s.split()[-1] for s in stages] == ["build", "run"]
    assert all(s.startswith("python:3.11-slim") for s in stages)
    runs = " ".join(arg for op, arg in _instructions() if op == "RUN")
    assert "python -m build --wheel" in runs
    assert "pip install --no-cache-dir /tmp/wheels/*.whl" in runs
    assert "COPY --from=build /dist/*.whl /tmp/wheels/" in [
        f"{op} {arg}" for op, arg in _instructions()
    ]


def test_every_package_the_wheel_holds_is_copied_and_not_ignored() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        source
        for op, arg in _instructions()
        if op == "COPY" and "--from" not in arg
        for source in arg.split()[:-1]  # every source; the last word is the destination
    }
    assert packages <= copied
    assert {"pyproject.toml", "README.md"} <= copied
    assert all((ROOT / c).exists() for c in copied)
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert copied <= allowed


def test_non_root_and_writable_only_under_tmp_and_data() -> None:
    ops = _instructions()
    assert ("USER", "10001") in ops
    assert ("ENTRYPOINT", '["rollbot"]') in ops
    env = " ".join(arg for op, arg in ops if op == "ENV")
    assert "MPLCONFIGDIR=/tmp/matplotlib" in env
    assert "ROLLBOT_EVIDENCE_DIR=/data/evidence" in env
    assert [o for o in ops if o[0] == "WORKDIR"][-1] == ("WORKDIR", "/data")

"""The wheel, installed outside the source tree, runs: `rollbot --version`, `rollbot db upgrade`
on SQLite and PostgreSQL, and `rollbot serve` to a ready `/readyz`. This is what the image
installs; a file the package forgot (a migration, the default policy) fails here, not in the
cluster. The dependencies come from the project's own environment (the suite cannot reach a
package registry); the rollbot code and data come only from the wheel."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import aiohttp
import pytest

from sandbox.processes import clean_env, served_url
from sandbox.slack.server import SandboxSlack

ROOT = Path(__file__).resolve().parents[2]


def _sources(into: Path) -> Path:
    """The repository's files as git knows them (tracked and new, not ignored): a clean copy,
    so building leaves nothing in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel installed in it; returns its bin directory."""
    base = tmp_path_factory.mktemp("wheel")
    tree = _sources(base / "src")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("rollbot-*.whl")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    # the third-party dependencies, not rollbot: appended after the venv's own site-packages
    site = Path(
        subprocess.run(
            [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    shutil.rmtree(tree)  # nothing of the source tree is left to import from
    return bin_dir


def _run(bin_dir: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "rollbot"), *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_installed_wheel_is_what_runs(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import bot, rollbot; print(bot.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed.parent)), where  # the wheel, not the source tree
    assert _run(installed, tmp_path, "--version").stdout == "rollbot 0.1.0\n"


def test_db_upgrade_on_sqlite_and_postgresql(
    installed: Path, tmp_path: Path, postgres_url: str
) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", postgres_url):
        done = _run(installed, tmp_path, "db", "upgrade", ROLLBOT_DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("schema at 0007")


async def test_serve_from_the_wheel_is_ready(
    installed: Path, tmp_path: Path, slack: SandboxSlack
) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(installed / "rollbot"),
        "serve",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        cwd=tmp_path,
        env=clean_env(
            SLACK_BOT_TOKEN=slack.state.token,
            SLACK_SIGNING_SECRET="s",
            ROLLBOT_SLACK_API_URL=slack.api_url,
            ROLLBOT_EXECUTOR="none",
            ROLLBOT_LOG_FORMAT="json",
            ROLLBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        ),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        url = None
        while url is None:
            line = (await asyncio.wait_for(proc.stderr.readline(), timeout=60)).decode()
            assert line, "rollbot serve from the wheel exited before it was serving"
            url = served_url(line)
        base = url.removesuffix("/slack/events")
        async with aiohttp.ClientSession() as http, http.get(f"{base}/readyz") as resp:
            body = await resp.json()
        assert resp.status == 200, body
        assert body["status"] == "ready"
    finally:
        proc.terminate()
        await proc.wait()

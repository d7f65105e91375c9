"""The production compose file: validated by `docker compose config` where the CLI has compose."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

COMPOSE = ROOT / "docker" / "compose.yaml"


def test_compose_file_describes_postgis_api_and_a_one_shot_loader():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert services["db"]["image"].startswith("postgis/postgis")
    assert "--workers" in services["api"]["command"]
    assert services["loader"]["entrypoint"][-1] == "load" and services["loader"]["restart"] == "no"
    # The password only ever comes from the environment, never from the file.
    lines = [line for line in COMPOSE.read_text().splitlines() if "PASSWORD" in line and not line.startswith("#")]
    assert lines and all("${SDI_DB_PASSWORD:?" in line for line in lines)


def test_the_image_and_the_api_service_put_nginx_in_front():
    # nginx comes from Debian in the image (and in `make setup`), and `sdi serve` starts it: the api
    # service publishes nginx's port, not gunicorn's, which listens on a socket only.
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "install-system-deps.sh nginx" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^system:.*\n\t@bash docker/install-system-deps.sh .*\bnginx\b", makefile, re.MULTILINE)
    api = yaml.safe_load(COMPOSE.read_text())["services"]["api"]
    assert api["command"][:2] == [".venv/bin/sdi", "serve"] and "5000:5000" in api["ports"]
    assert "/health" in " ".join(api["healthcheck"]["test"])


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_compose(), reason="this machine's docker CLI has no compose plugin")
def test_docker_compose_config_validates():
    env = {**os.environ, "SDI_DB_PASSWORD": "only-for-validation"}
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr

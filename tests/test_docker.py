"""The production compose file and image; tests/test_compose.py validates the file with docker-compose."""

from __future__ import annotations

import re

import yaml

from conftest import ROOT

COMPOSE = ROOT / "docker" / "compose.yaml"


def test_compose_file_describes_postgis_api_and_a_one_shot_loader():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert services["db"]["image"].startswith("postgis/postgis")
    assert "--workers" in services["api"]["command"]
    assert services["loader"]["entrypoint"][-1] == "load" and services["loader"]["restart"] == "no"
    # The password only ever comes from the environment (every secret: tests/test_compose.py).
    assert "${SDI_DB_PASSWORD:?" in COMPOSE.read_text()


def test_the_image_and_the_api_service_put_nginx_in_front():
    # nginx comes from Debian in the image (and in `make setup`), and `sdi serve` starts it: the api
    # service publishes nginx's port, not gunicorn's, which listens on a socket only.
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "install-system-deps.sh nginx" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^system:.*\n\t@bash docker/install-system-deps.sh .*\bnginx\b", makefile, re.MULTILINE)
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    api = services["api"]
    # The nodes publish no port: the load balancer in front of them does (docker/lb.conf).
    assert api["command"][:2] == [".venv/bin/sdi", "serve"] and "ports" not in api
    assert "5000:5000" in services["lb"]["ports"]
    assert "/health" in " ".join(api["healthcheck"]["test"])

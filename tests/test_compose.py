"""docker/compose.yaml beyond one machine (issue 22): a primary, a streaming replica, two API nodes, a load balancer.

Static checks of the file and the scripts it mounts, then the file validated by Compose itself: Debian's
`docker-compose` 1.29 (`make test-system` installs it without the docker engine) or the docker CLI's compose
plugin where that exists. Neither needs a running engine, so this does not skip for want of one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from sdi.core.cluster_setup import MAX_LOCKS_PER_TRANSACTION

from conftest import ROOT

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
SECRETS = {
    "SDI_DB_PASSWORD": "validation-only-1",
    "SDI_REPLICATION_PASSWORD": "validation-only-2",
    "SDI_READER_PASSWORD": "validation-only-3",
}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _nodes(services: dict) -> dict:
    return {name: s for name, s in services.items() if s.get("command", [])[:2] == [".venv/bin/sdi", "serve"]}


def _url(value: str) -> dict:
    """A URL of the file with its ${VAR:?...} placeholders filled, parsed as libpq parses it."""
    return conninfo_to_dict(re.sub(r"\$\{(\w+)[^}]*\}", lambda m: SECRETS.get(m.group(1), "x"), value))


def test_a_primary_with_wal_senders_and_a_streaming_replica_made_by_pg_basebackup(services):
    primary, replica = services["db"], services["replica"]
    assert primary["image"].startswith("postgis/postgis") and replica["image"] == primary["image"]
    settings = " ".join(primary["command"])
    assert "wal_level=replica" in settings and "max_wal_senders=" in settings
    # A hot standby refuses to start with fewer locks than its primary: both as the embedded cluster's.
    script = (DOCKER / "replica-entrypoint.sh").read_text()
    assert f"max_locks_per_transaction={MAX_LOCKS_PER_TRANSACTION}" in settings
    assert f"max_locks_per_transaction={MAX_LOCKS_PER_TRANSACTION}" in script
    assert re.search(r"pg_basebackup -h db .*-R -X stream", script) and '-S "$REPLICA_SLOT"' in script
    assert "hot_standby=on" in script and replica["user"] == "postgres"
    assert "./replica-entrypoint.sh:/replica-entrypoint.sh:ro" in replica["volumes"]
    assert (
        replica["environment"]["REPLICA_SLOT"]
        and replica["volumes"][0].split(":")[0] in yaml.safe_load(COMPOSE.read_text())["volumes"]
    )
    # The replicas' login exists on the primary from its first start, and pg_hba lets it stream.
    init = (DOCKER / "initdb" / "10-replication.sh").read_text()
    assert "LOGIN REPLICATION NOSUPERUSER" in init and "host replication sdi_replicator" in init
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in primary["volumes"]


def test_two_api_nodes_read_through_the_replica_and_write_to_the_primary(services):
    nodes = _nodes(services)
    assert len(nodes) >= 2, nodes.keys()
    readers = {node["environment"]["SDI_READER_DATABASE_URL"] for node in nodes.values()}
    assert len(readers) == 1  # one shared reader login: no node renews its password and logs the others out
    reader = _url(readers.pop())
    assert reader["host"].split(",") == ["replica", "db"]  # the replica first, the primary when it is down
    assert reader["target_session_attrs"] == "prefer-standby" and reader["user"] == "sdi_reader"
    assert reader["password"] == SECRETS["SDI_READER_PASSWORD"]
    for node in [*nodes.values(), services["loader"], services["init"]]:
        assert _url(node["environment"]["SDI_DATABASE_URL"])["host"] == "db"  # loads and catalogue: the primary
    for node in nodes.values():
        assert node["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert "ports" not in node  # clients reach the nodes through the load balancer only
    assert "reader_login.py" in " ".join(services["init"]["entrypoint"]) and "sdi init" in " ".join(
        services["init"]["entrypoint"]
    )


def test_the_load_balancer_spreads_over_every_node_and_skips_a_lost_one(services):
    lb = services["lb"]
    assert lb["image"].startswith("nginx") and "5000:5000" in lb["ports"]
    assert "./lb.conf:/etc/nginx/conf.d/default.conf:ro" in lb["volumes"]
    conf = (DOCKER / "lb.conf").read_text()
    upstream = re.search(r"upstream sdi_nodes \{(.*?)\}", conf, re.S).group(1)
    assert set(re.findall(r"server (\w+):5000", upstream)) == set(_nodes(services))
    assert set(lb["depends_on"]) == set(_nodes(services))
    assert "proxy_next_upstream error timeout" in conf  # a node lost costs only the requests in flight on it


def test_every_secret_comes_from_a_required_environment_variable():
    text = COMPOSE.read_text()
    lines = [line for line in text.splitlines() if "PASSWORD" in line and not line.lstrip().startswith("#")]
    assert len(lines) >= 5
    for line in lines:  # each names a ${..._PASSWORD:?...}: Compose refuses to start without it
        assert re.search(r"\$\{SDI_\w*PASSWORD:\?", line), line
    assert not re.search(r"postgresql://[^:/]+:[^$]", text)  # no literal password in any URL


def _compose() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


def test_compose_validates_the_file_without_an_engine():
    compose = _compose()
    assert compose, "no Compose here: install Debian's docker-compose (make test-system; no engine needed)"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SDI_")}, **SECRETS}
    done = subprocess.run([*compose, "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Without a secret Compose refuses the file and names what is missing.
    env.pop("SDI_REPLICATION_PASSWORD")
    done = subprocess.run([*compose, "-f", str(COMPOSE), "config", "--quiet"], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "SDI_REPLICATION_PASSWORD" in done.stderr

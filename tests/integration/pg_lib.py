"""PostgreSQL for the integration tests: a throw-away server (tests/tools/pg_server.py, as
`nobody` under root, TLS with its own CA, SCRAM passwords), SQL over its socket, and an
Installation whose `aegis init` and `aegis serve` get AEGIS_DB_PASSWORD."""

import json
import subprocess
import sys
import time
import uuid

from aegis_testlib import REPO, Installation

PG_SERVER = [sys.executable, str(REPO / "tests" / "tools" / "pg_server.py")]
sys.path.insert(0, str(REPO / "tests" / "tools"))
from pg_server import make_certificates  # noqa: E402,F401  (the scale-out test's certificates)


def start_pg(folder) -> dict:
    state_path = folder / "state.json"
    subprocess.run(PG_SERVER + ["start", str(state_path), "--tls"], check=True)
    state = json.loads(state_path.read_text())
    state["path"] = str(state_path)
    return state


def stop_pg(state: dict):
    subprocess.run(PG_SERVER + ["stop", state["path"]], check=True)


def halt_pg(state: dict):
    """An outage: the server stops, its data stays."""
    subprocess.run(PG_SERVER + ["halt", state["path"]], check=True)


def resume_pg(state: dict):
    subprocess.run(PG_SERVER + ["resume", state["path"]], check=True)


def psql(pg: dict, database: str, sql: str) -> list[list[str]]:
    """Runs SQL as the test role over the socket; returns the rows as lists of strings."""
    proc = subprocess.run(["psql", "-h", pg["socket_dir"], "-p", str(pg["port"]), "-U", "aegis", "-d", database,
                           "-v", "ON_ERROR_STOP=1", "-AtF", "\t", "-c", sql],
                          env={"PGPASSWORD": pg["password"], "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


def create_database(pg: dict) -> str:
    name = "it_" + uuid.uuid4().hex[:12]
    psql(pg, "aegis", f"CREATE DATABASE {name}")
    return name


def drop_database(pg: dict, name: str):
    psql(pg, "aegis", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def store_url(pg: dict, database: str) -> str:
    return (f"postgresql://aegis@localhost:{pg['port']}/{database}"
            f"?sslmode=verify-full&sslrootcert={pg['ca']}")


class PgInstallation(Installation):
    """An installation whose init and serve get AEGIS_DB_PASSWORD."""

    def __init__(self, root, password):
        super().__init__(root)
        self.db_password = password

    def env(self, extra=None):
        env = super().env(extra)
        env["AEGIS_DB_PASSWORD"] = self.db_password
        return env

    def join(self, first: "PgInstallation"):
        """Shares `first`'s installation: its admin token, CA and trusted publisher."""
        self.token = first.token
        self.publisher, self._publisher_trusted = first.publisher, True


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)

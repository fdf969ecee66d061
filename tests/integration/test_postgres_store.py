"""The PostgreSQL store ([store] url) with a real PostgreSQL 15 over TLS (verify-full, SCRAM).

One PostgreSQL server for the module (tests/tools/pg_server.py, as `nobody` under root), one
database per test. What is checked: `aegis init --store-url` creates the installation in the
database (nothing in a local SQLite file) and prepares another replica's data folder with the
installation's KEK only; a server keeps serving from memory while PostgreSQL is down, answers
writes with 503 and recovers by itself; a second server on the same database is refused while
two servers on one database see each other's pushes, removals and revocations within a
second; refused URLs and unreachable databases are one clear line.
"""

import json
import socket
import time

import pytest

from aegis_testlib import (EXAMPLES, Installation, aegis, assert_one_line_error, check_json_error, infer_body,
                           reference_case, stop_and_check)
from identity_lib import create_user, login
from pg_lib import (PgInstallation, create_database, drop_database, halt_pg, psql, resume_pg, start_pg, stop_pg,
                    store_url, wait_until)


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    state = start_pg(tmp_path_factory.mktemp("pg"))
    yield state
    stop_pg(state)


@pytest.fixture
def database(pg):
    name = create_database(pg)
    yield name
    drop_database(pg, name)


def test_init_serve_restart_and_outage_on_postgres(pg, database, tmp_path):
    inst = PgInstallation(tmp_path / "a", pg["password"])
    out = inst.init("--store-url", store_url(pg, database))
    assert out["replica"] is False and out["admin_token"].startswith("aegis_")
    # Unnamed, a replica's audit log takes the host name (on Kubernetes the pod's).
    assert out["replica_id"] == socket.gethostname()
    assert (inst.dir / "audit" / "replica_id").read_text() == socket.gethostname() + "\n"
    # The installation lives in PostgreSQL, not in a local SQLite file.
    assert not (inst.dir / "db" / "aegis.db").exists()
    assert psql(pg, database, "SELECT name, role, revoked FROM tokens") == [["admin", "admin", "0"]]
    inst.start()
    try:
        inst.push_ok("xgb", "1", EXAMPLES / "xgb_classifier.json", "xgboost")
        x, expected = reference_case("xgb")
        assert inst.infer("xgb", infer_body(x)).status_code == 200
        rows = psql(pg, database, "SELECT name, version, format, length(wrapped_dek) > 0 FROM model_versions")
        assert rows == [["xgb", "1", "xgboost", "t"]]
        # The server never put the password on disk or in its own files.
        for path in inst.dir.rglob("*"):
            if path.is_file():
                assert pg["password"].encode() not in path.read_bytes(), path

        # An outage: cached models and credentials keep serving; writes get 503 with a JSON error.
        halt_pg(pg)
        try:
            assert inst.infer("xgb", infer_body(x)).status_code == 200
            r = inst.post("/v1/tokens", admin=True, json={"name": "during-outage", "role": "consumer"})
            body = check_json_error(r, 503, "issuing a token while the database is down")
            assert "database" in body["error"] and pg["socket_dir"] not in body["error"]
        finally:
            resume_pg(pg)
        # ... and it recovers by itself, without a restart.
        deadline = time.monotonic() + 15
        while True:
            r = inst.post("/v1/tokens", admin=True, json={"name": "after-outage", "role": "consumer"})
            if r.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert r.status_code == 201, r.text
        assert inst.alive()
    finally:
        stop_and_check(inst)

    # A restart finds the model and the new token in the database.
    inst.start()
    try:
        inst.wait_ready(60)
        assert inst.infer("xgb", infer_body(x)).status_code == 200
        names = [t["name"] for t in inst.get("/v1/tokens", admin=True).json()["tokens"]]
        assert "after-outage" in names and "during-outage" not in names
    finally:
        stop_and_check(inst)


def test_another_replica_folder_needs_the_installation_kek(pg, database, tmp_path):
    first = PgInstallation(tmp_path / "first", pg["password"])
    # --kek-file joins an installation: on an empty database the admin token would be lost.
    proc = aegis("init", "--data-dir", first.dir, "--store-url", store_url(pg, database), "--kek-file",
                 tmp_path / "kek.key", env=first.env())
    assert_one_line_error(proc)
    assert "holds no installation yet" in proc.stderr
    assert not first.dir.exists()
    first.init("--store-url", store_url(pg, database))
    # Something wrapped by the installation's KEK, so a foreign KEK can be told apart.
    first.start()
    try:
        first.push_ok("xgb", "1", EXAMPLES / "xgb_classifier.json", "xgboost")
    finally:
        stop_and_check(first)

    second = PgInstallation(tmp_path / "second", pg["password"])
    # Without the KEK: refused, nothing created.
    proc = aegis("init", "--data-dir", second.dir, "--store-url", store_url(pg, database), env=second.env())
    assert_one_line_error(proc)
    assert "already holds an installation" in proc.stderr and "--kek-file" in proc.stderr
    assert not second.dir.exists()
    # With another installation's KEK: refused.
    other = Installation(tmp_path / "other")
    other.init()
    proc = aegis("init", "--data-dir", second.dir, "--store-url", store_url(pg, database), "--kek-file",
                 other.dir / "keys" / "kek.key", env=second.env())
    assert_one_line_error(proc)
    assert "not the key-encryption key of the installation" in proc.stderr
    assert not second.dir.exists()
    # With the installation's KEK: a data folder and no admin token.
    out = second.init("--store-url", store_url(pg, database), "--kek-file", first.dir / "keys" / "kek.key")
    assert out["replica"] is True and out["admin_token"] is None
    assert psql(pg, database, "SELECT count(*) FROM tokens") == [["1"]]
    # The same installation: its admin token and its trusted publisher.
    second.join(first)
    second.start()
    first.start()
    try:
        second.wait_ready(60)
        x, _ = reference_case("xgb")
        # The second fetched the model's bytes from the database (nothing shared on disk).
        assert second.infer("xgb", infer_body(x)).status_code == 200
        # Both serve at once; a push through one is served by the other within a second,
        # and a token revoked through one is refused by the other within a second.
        second.push_ok("xgb", "2", EXAMPLES / "xgb_classifier.ubj", "xgboost")
        assert wait_until(lambda: first.infer("xgb", infer_body(x), version="2").status_code == 200, 1.5)
        issued = first.post("/v1/tokens", admin=True, json={"name": "short-lived", "role": "consumer"}).json()
        assert wait_until(lambda: second.infer("xgb", infer_body(x), token=False,
                                               headers={"Authorization": f"Bearer {issued['token']}"}
                                               ).status_code == 200, 1.5)
        assert first.delete(f"/v1/tokens/{issued['id']}", admin=True).status_code in (200, 204)
        assert wait_until(lambda: second.infer("xgb", infer_body(x), token=False,
                                               headers={"Authorization": f"Bearer {issued['token']}"}
                                               ).status_code == 401, 1.5)
        # A version removed through one stops being served by the other.
        assert first.delete("/v1/models/xgb/versions/2", admin=True).status_code in (200, 204)
        assert wait_until(lambda: second.infer("xgb", infer_body(x), version="2").status_code == 404, 1.5)
        # The publisher's key removed through one: what it signed is withdrawn by the other.
        assert first.delete("/v1/trust/test-publisher", admin=True).status_code in (200, 204)
        assert wait_until(lambda: second.infer("xgb", infer_body(x)).status_code == 503, 1.5)
    finally:
        stop_and_check(first)
        stop_and_check(second)


@pytest.mark.parametrize("url, says", [
    ("postgresql://aegis:hunter2@localhost:5432/aegis?sslmode=verify-full", "must not contain a password"),
    ("postgresql://aegis@localhost:5432/aegis", "sslmode=verify-full"),
    ("postgresql://aegis@localhost:5432/aegis?sslmode=require", "sslmode=verify-full"),
    ("mysql://aegis@localhost/aegis", "postgresql://"),
])
def test_refused_urls_are_one_line_and_create_nothing(tmp_path, url, says):
    target = tmp_path / "data"
    proc = aegis("init", "--data-dir", target, "--store-url", url, env={"AEGIS_DB_PASSWORD": "x"})
    assert_one_line_error(proc)
    assert says in proc.stderr and "hunter2" not in proc.stderr
    assert not target.exists()


def test_config_url_is_checked_and_an_unreachable_database_is_one_line(pg, tmp_path):
    inst = Installation(tmp_path / "a")
    inst.init()
    inst.set_config("store", "url", "postgresql://aegis@localhost:5432/aegis?sslmode=prefer")
    inst.start(wait=False)
    assert inst.proc.wait(timeout=60) != 0
    err = inst.last_stderr.read_text()
    assert "store.url" in err and "sslmode=verify-full" in err, err

    # Nothing listens on this port: the operator hears where and why, in one line.
    inst.set_config("store", "url", f"postgresql://aegis@localhost:1/aegis?sslmode=verify-full&sslrootcert={pg['ca']}")
    inst.start(wait=False)
    assert inst.proc.wait(timeout=60) != 0
    err = inst.last_stderr.read_text().strip()
    assert err.startswith("aegis: opening the database (store.url): cannot connect to the database at "
                          "postgresql://aegis@localhost:1/aegis"), err
    assert len(err.splitlines()) == 1, err


def test_migrate_a_sqlite_installation_into_postgres(pg, database, tmp_path):
    inst = PgInstallation(tmp_path / "a", pg["password"])
    inst.init()  # SQLite
    inst.start()
    x, _ = reference_case("xgb")
    try:
        inst.push_ok("xgb", "1", EXAMPLES / "xgb_classifier.json", "xgboost")
        inst.push_ok("xgb", "2", EXAMPLES / "xgb_classifier.ubj", "xgboost")
        consumer = inst.post("/v1/tokens", admin=True, json={"name": "svc", "role": "consumer"}).json()
        user = create_user(inst, "erin", "auditor")
        # While the server runs, the migration is refused (the audit log's lock).
        proc = aegis("store", "migrate", "--from-data-dir", inst.dir, "--to", store_url(pg, database),
                     env=inst.env())
        assert_one_line_error(proc)
        assert "server is running" in proc.stderr
    finally:
        stop_and_check(inst)

    # A non-empty target is refused, and nothing is written to it.
    other = create_database(pg)
    psql(pg, other, "SELECT 1")
    other_inst = PgInstallation(tmp_path / "other", pg["password"])
    other_inst.init("--store-url", store_url(pg, other))
    proc = aegis("store", "migrate", "--from-data-dir", inst.dir, "--to", store_url(pg, other), env=inst.env())
    assert_one_line_error(proc)
    assert "holds an installation already" in proc.stderr
    assert psql(pg, other, "SELECT count(*) FROM tokens") == [["1"]]
    drop_database(pg, other)

    # A blob gone missing: nothing is committed, the configuration is unchanged.
    blob = next((inst.dir / "blobs").glob("*.blob"))
    hidden = tmp_path / "hidden.blob"
    blob.rename(hidden)
    config_before = inst.config_path.read_text()
    proc = aegis("store", "migrate", "--from-data-dir", inst.dir, "--to", store_url(pg, database), env=inst.env())
    assert_one_line_error(proc)
    assert "nothing was committed" in proc.stderr
    assert psql(pg, database, "SELECT count(*) FROM tokens") == [["0"]]
    assert inst.config_path.read_text() == config_before
    hidden.rename(blob)

    # An installation from before [store] existed: its aegis.toml has no such table.
    text = inst.config_path.read_text()
    start = text.index("[store]\n")
    inst.config_path.write_text(text[:start] + text[text.index("\n[", start) + 1:])
    proc = aegis("store", "migrate", "--from-data-dir", inst.dir, "--to", store_url(pg, database), "--json",
                 env=inst.env())
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["models"], out["tokens"], out["users"], out["trusted_keys"]) == (2, 2, 1, 1), out
    assert psql(pg, database, "SELECT name, version FROM model_versions ORDER BY sequence") == [["xgb", "1"],
                                                                                              ["xgb", "2"]]
    assert f'url = "{store_url(pg, database)}"' in inst.config_path.read_text()
    # The server now runs on PostgreSQL with everything it had; the migration is audited.
    inst.start()
    try:
        inst.wait_ready(60)
        assert inst.infer("xgb", infer_body(x)).status_code == 200
        assert inst.infer("xgb", infer_body(x), version="1").status_code == 200
        assert inst.infer("xgb", infer_body(x), token=False,
                          headers={"Authorization": f"Bearer {consumer['token']}"}).status_code == 200
        assert login(inst, user).status_code == 200
        events = [e for e in inst.audit_events() if e.get("action") == "store.migrate"]
        assert [e["decision"] for e in events] == ["deny", "allow"], events
    finally:
        stop_and_check(inst)

#!/usr/bin/python3
"""A throw-away PostgreSQL 15 server for the tests (Debian's postgresql-15).

    pg_server.py start STATE.json [--tcp] [--tls]
    pg_server.py stop STATE.json
    pg_server.py halt STATE.json      # stop the server, keep its data (an outage)
    pg_server.py resume STATE.json    # start it again on the same data and port

`start` creates a cluster in a fresh folder under /tmp, starts it and writes
STATE.json (mode 0600) with what a test needs to connect:

    {"socket_dir", "port", "user", "password", "database",
     "superuser", "superuser_password", "ca", "data_dir", "log"}

The server listens on a Unix socket in that folder, and with --tcp also on
127.0.0.1:port; --tls turns on TLS with a certificate for "localhost" and
127.0.0.1 issued by a CA made here (STATE["ca"]). Every login needs a password
(SCRAM-SHA-256), over the socket as well: the tests exercise the same
authentication as production. Durability is off (fsync, synchronous_commit):
the data is thrown away.

PostgreSQL refuses to run as root, so under root the server runs as `nobody`
(its folder belongs to that user). `stop` stops it (immediately: the data does
not matter) and removes the folder. Both are idempotent enough for a test's
set-up and clean-up: stopping a server that is gone only removes what is left.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile

BIN = "/usr/lib/postgresql/15/bin"
NOBODY = 65534


def _demote():
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, preexec_fn=_demote, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          **kwargs)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificates(folder):
    """A CA (ca.crt, ca.key) and a server certificate for localhost and 127.0.0.1 (server.crt,
    server.key, mode 0600) in `folder`, with the openssl CLI. Also used by the scale-out test and
    bench/store_bench.py for the replicas' and HAProxy's certificate."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=aegis test database CA", "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(folder, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days",
            "2", "-extfile", "san.ext", "-out", "server.crt")
    os.chmod(os.path.join(folder, "server.key"), 0o600)


def _make_tls(folder):
    """The server's certificate, owned by the user PostgreSQL runs as."""
    make_certificates(folder)
    for name in ("server.key", "server.crt"):
        path = os.path.join(folder, name)
        os.chmod(path, 0o600)
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)


def start(state_path, tcp, tls):
    folder = tempfile.mkdtemp(prefix="aegis-pg-")
    data = os.path.join(folder, "data")
    if os.geteuid() == 0:
        os.chown(folder, NOBODY, NOBODY)
    superuser_password = secrets.token_hex(16)
    password = secrets.token_hex(16)
    pwfile = os.path.join(folder, "pw")
    with open(pwfile, "w") as f:
        f.write(superuser_password + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, NOBODY, NOBODY)
    _run([f"{BIN}/initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E",
          "UTF8", "--locale=C", "--no-sync"])
    os.unlink(pwfile)
    port = _free_port() if tcp else 5432
    settings = [
        f"port = {port}",
        f"listen_addresses = '{'127.0.0.1' if tcp else ''}'",
        f"unix_socket_directories = '{folder}'",
        "fsync = off", "synchronous_commit = off", "full_page_writes = off",
        "max_connections = 200", "shared_buffers = 32MB",
    ]
    ca = ""
    if tls:
        _make_tls(folder)
        ca = os.path.join(folder, "ca.crt")
        settings += ["ssl = on", f"ssl_cert_file = '{folder}/server.crt'", f"ssl_key_file = '{folder}/server.key'"]
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("\n".join(settings) + "\n")
    log = os.path.join(folder, "server.log")
    _run([f"{BIN}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start"])
    env = dict(os.environ, PGPASSWORD=superuser_password)
    sql = (f"CREATE ROLE aegis LOGIN CREATEDB PASSWORD '{password}'; "
           "CREATE DATABASE aegis OWNER aegis;")
    for statement in sql.split("; "):
        _run([f"{BIN}/psql", "-h", folder, "-p", str(port), "-U", "postgres", "-d", "postgres", "-v",
              "ON_ERROR_STOP=1", "-qc", statement.rstrip(";")], env=env)
    state = {"socket_dir": folder, "port": port, "user": "aegis", "password": password, "database": "aegis",
             "superuser": "postgres", "superuser_password": superuser_password, "ca": ca, "data_dir": data,
             "log": log}
    fd = os.open(state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)


def stop(state_path):
    try:
        with open(state_path) as f:
            state = json.load(f)
    except FileNotFoundError:
        return
    if os.path.isdir(state["data_dir"]):
        subprocess.run([f"{BIN}/pg_ctl", "-D", state["data_dir"], "-m", "immediate", "-w", "stop"],
                       preexec_fn=_demote, capture_output=True)
    shutil.rmtree(state["socket_dir"], ignore_errors=True)
    os.unlink(state_path)


def halt(state_path):
    with open(state_path) as f:
        state = json.load(f)
    _run([f"{BIN}/pg_ctl", "-D", state["data_dir"], "-m", "fast", "-w", "stop"])


def resume(state_path):
    with open(state_path) as f:
        state = json.load(f)
    _run([f"{BIN}/pg_ctl", "-D", state["data_dir"], "-l", state["log"], "-w", "-t", "60", "start"])


def main(argv):
    if len(argv) < 3 or argv[1] not in ("start", "stop", "halt", "resume"):
        sys.stderr.write("usage: pg_server.py start|stop|halt|resume STATE.json [--tcp] [--tls]\n")
        return 2
    if argv[1] in ("halt", "resume"):
        (halt if argv[1] == "halt" else resume)(argv[2])
        return 0
    if argv[1] == "start":
        try:
            start(argv[2], tcp="--tcp" in argv[3:] or "--tls" in argv[3:], tls="--tls" in argv[3:])
        except subprocess.CalledProcessError as e:
            sys.stderr.write(f"pg_server: {' '.join(e.cmd)} failed:\n{e.stdout.decode(errors='replace')}\n")
            return 1
    else:
        stop(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

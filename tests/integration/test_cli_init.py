"""`aegis init` and `aegis serve` start-up: the installation layout, secrets, re-init, passphrase."""

import json
import os
import pathlib
import re
import socket
import ssl
import stat
import subprocess
import tomllib

import pytest

from aegis_testlib import (AEGIS_BIN, Installation, aegis, assert_build_revision, assert_one_line_error, clean_env, describe, find_in_tree,
                           first_cert_der, free_port, project_version, snapshot_tree)

HELP_COMMANDS = [
    [],
    ["init"],
    ["serve"],
    ["model"],
    ["model", "push"],
    ["model", "list"],
    ["model", "remove"],
    ["audit"],
    ["audit", "show"],
]


@pytest.mark.parametrize("cmd", HELP_COMMANDS, ids=lambda c: " ".join(c) or "aegis")
def test_help(cmd):
    proc = aegis(*cmd, "--help")
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.strip(), "--help printed nothing on stdout\n" + describe(proc)


def test_version_comes_from_cmake():
    """One line: the release from CMakeLists.txt and the git revision the build was configured from."""
    proc = aegis("--version")
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.count("\n") == 1, describe(proc)
    m = re.fullmatch(r"aegis (\S+) \(revision (\S+)\)", proc.stdout.strip())
    assert m, describe(proc)
    assert m.group(1) == project_version(), describe(proc)
    assert_build_revision(m.group(2))


def test_unknown_command_fails():
    proc = aegis("no-such-command")
    assert proc.returncode != 0, describe(proc)


@pytest.mark.parametrize("args,unknown,valid", [
    (["no-such-command"], "'no-such-command'", ["init", "serve", "model", "audit", "user", "token", "login"]),
    (["user", "delete", "bob"], "'user delete'", ["add", "list", "disable", "enable", "unlock", "reset-totp",
                                                  "remove"]),
])
def test_unknown_subcommand_names_itself_and_the_valid_ones(args, unknown, valid):
    proc = aegis(*args)
    assert_one_line_error(proc, "aegis: unknown command ")
    assert unknown in proc.stderr, describe(proc)
    listed = {name.strip() for name in proc.stderr.split("valid:")[1].split(",")}
    assert set(valid) <= listed, describe(proc)


def test_a_group_without_its_command_lists_them():
    proc = aegis("token")
    assert_one_line_error(proc, "aegis: 'aegis token' needs a command: ")
    assert "create, list, revoke" in proc.stderr, describe(proc)


# The main commands' help: the command's own options first, then the connection options,
# one wording for --json, and examples.
@pytest.mark.parametrize("cmd", [["init"], ["serve"], ["model", "push"], ["token", "create"], ["user", "add"],
                                 ["login"]], ids=" ".join)
def test_help_of_main_commands_has_examples_and_options_first(cmd):
    out = aegis(*cmd, "--help").stdout
    assert "Examples:\n  aegis " + " ".join(cmd) in out, out
    if "--json" in out:  # one wording everywhere
        assert "--json                      Print machine-readable JSON instead of text" in out, out
    if "Connection options:" in out:
        assert out.index("Options:") < out.index("Connection options:"), out
        own = out[out.index("Options:"):out.index("Connection options:")]
        connection = out[out.index("Connection options:"):]
        assert "--server" in connection and "--cacert" in connection and "--server" not in own, out


def test_model_group_describes_its_offline_commands():
    out = aegis("--help").stdout
    line = next(l for l in out.splitlines() if l.strip().startswith("model"))
    assert "offline" in line and "sign" in line and "push" in line, line


def test_systemd_unit_is_hardened_and_verifies(tmp_path):
    """deploy/systemd/aegis.service passes `systemd-analyze verify` (with the built binary in
    place of the installed path) and keeps its hardening."""
    analyze = "/usr/bin/systemd-analyze"
    if not os.path.exists(analyze):
        pytest.skip("systemd-analyze is not installed (scripts/setup.sh installs systemd)")
    unit = (pathlib.Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "aegis.service").read_text()
    settings = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    for key, want in (("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
                      ("CapabilityBoundingSet", ""), ("User", "aegis")):
        assert settings.get(key) == want, f"{key}={settings.get(key)!r}, expected {want!r}"
    data_dir = re.search(r"--data-dir (\S+)", settings["ExecStart"]).group(1)
    assert any(data_dir.startswith(p) for p in settings["ReadWritePaths"].split()), (data_dir, settings)
    # The engine workers' own namespaces stay possible (docs/confinement.md).
    assert set("user mnt pid net".split()) <= set(settings["RestrictNamespaces"].split()), settings
    path = tmp_path / "aegis.service"
    path.write_text(unit.replace("/usr/local/bin/aegis", AEGIS_BIN))
    proc = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "aegis.service" not in proc.stderr, describe(proc)
    proc = subprocess.run([analyze, "security", "--offline=yes", str(path)], capture_output=True, text=True,
                          timeout=60)
    level = re.search(r"Overall exposure level for aegis.service: ([0-9.]+)", proc.stdout)
    assert level and float(level.group(1)) <= 3.0, describe(proc)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh `aegis init --json` (no serve)."""
    inst = Installation(tmp_path_factory.mktemp("init"))
    proc = aegis("init", "--data-dir", inst.dir, "--json", "--listen", f"127.0.0.1:{inst.data_port}",
                 "--admin-listen", f"127.0.0.1:{inst.admin_port}")
    assert proc.returncode == 0, describe(proc)
    inst.proc_init = proc
    return inst


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def test_init_json_output(fresh):
    proc = fresh.proc_init
    try:
        out = json.loads(proc.stdout)
    except ValueError as e:
        pytest.fail(f"stdout is not exactly one JSON object ({e})\n{describe(proc)}")
    assert isinstance(out, dict), out
    for key in ("data_dir", "admin_token", "ca_cert"):
        assert key in out, f"missing {key!r} in init --json output {out}"
    assert os.path.isabs(out["data_dir"]), out
    assert pathlib.Path(out["data_dir"]).resolve() == fresh.dir.resolve(), out
    assert os.path.isabs(out["ca_cert"]), out
    assert pathlib.Path(out["ca_cert"]).resolve() == (fresh.dir / "tls" / "ca.crt").resolve(), out
    assert isinstance(out["admin_token"], str) and len(out["admin_token"]) >= 16, out


def test_data_dir_mode_0700(fresh):
    mode = stat.S_IMODE(fresh.dir.stat().st_mode)
    assert mode == 0o700, f"{fresh.dir} has mode {oct(mode)}, expected 0o700"


def test_layout(fresh):
    d = fresh.dir
    for rel in ("aegis.toml", "tls/ca.crt", "tls/server.crt", "tls/server.key", "db/aegis.db"):
        assert (d / rel).is_file(), f"{rel} missing; tree: {sorted(str(p.relative_to(d)) for p in d.rglob('*'))}"
    assert (d / "audit").is_dir(), "audit/ missing"
    kek = d / "keys" / "kek.key"
    assert kek.is_file(), "keys/kek.key missing (no AEGIS_PASSPHRASE was set)"
    assert not (d / "keys" / "kek.sealed").exists(), "kek.sealed written without AEGIS_PASSPHRASE"
    assert kek.stat().st_size == 32, f"kek.key is {kek.stat().st_size} bytes, expected 32"
    for rel in ("keys/kek.key", "tls/server.key"):
        mode = stat.S_IMODE((d / rel).stat().st_mode)
        assert mode == 0o600, f"{rel} has mode {oct(mode)}, expected 0o600"


def test_every_private_key_is_0600(fresh):
    bad = []
    for p in fresh.files():
        if b"PRIVATE KEY" in p.read_bytes():
            mode = stat.S_IMODE(p.stat().st_mode)
            if mode & 0o077:
                bad.append((str(p.relative_to(fresh.dir)), oct(mode)))
    assert not bad, f"private key files readable by group/others: {bad}"


def test_config_is_toml_with_documented_sections(fresh):
    cfg = tomllib.loads((fresh.dir / "aegis.toml").read_text())
    for section in ("server", "limits", "tls"):
        assert section in cfg, f"[{section}] missing from aegis.toml: {cfg}"
    assert cfg["server"].get("listen") == f"127.0.0.1:{fresh.data_port}", \
        f"init --listen not written to [server] listen: {cfg['server']}"
    assert cfg["server"].get("admin_listen") == f"127.0.0.1:{fresh.admin_port}", \
        f"init --admin-listen not written to [server] admin_listen: {cfg['server']}"
    assert cfg["tls"].get("ca") == "tls/ca.crt", f"init did not name the CA it made in [tls] ca: {cfg['tls']}"


# The [limits] contract: every key, with its default (README, "Configuration").
LIMITS_DEFAULTS = {"max_body_bytes": 64 << 20, "max_model_bytes": 4 << 30, "max_header_bytes": 16384,
                   "read_timeout_seconds": 30, "write_timeout_seconds": 30, "idle_timeout_seconds": 60,
                   "handshake_timeout_seconds": 5, "first_byte_timeout_seconds": 5,
                   "max_connections": 1024, "max_connections_per_source": 64, "ipv6_source_prefix": 64,
                   # 0: derived from the machine's memory at start (docs/operations.md, Limits)
                   "body_memory_bytes": 0, "body_memory_principal_percent": 25,
                   "max_response_body_bytes": 64 << 20}


def test_init_writes_every_limits_key_with_its_default(fresh):
    written = tomllib.loads((fresh.dir / "aegis.toml").read_text())["limits"]
    assert written == LIMITS_DEFAULTS, f"[limits] as written by init: {written}\nthe contract: {LIMITS_DEFAULTS}"
    # The README documents exactly these keys (and src/cli/config_keys_test.cc checks that init
    # writes every [limits] key the loader accepts).
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    documented = set(re.findall(r"^\| `limits\.([a-z0-9_]+)`", readme, flags=re.M))
    assert documented == set(LIMITS_DEFAULTS), f"README documents {sorted(documented)}"


def test_server_certificate(fresh):
    tls = fresh.dir / "tls"
    text = openssl("x509", "-in", str(tls / "server.crt"), "-noout", "-text").stdout
    assert "id-ecPublicKey" in text, "server certificate key is not ECDSA\n" + text
    assert re.search(r"(prime256v1|P-256)", text), "server certificate curve is not P-256\n" + text
    san = re.search(r"X509v3 Subject Alternative Name:.*?\n\s*(.*)\n", text)
    assert san, "server certificate has no subjectAltName\n" + text
    names = {s.strip() for s in san.group(1).split(",")}
    for want in ("DNS:localhost", "IP Address:127.0.0.1"):
        assert want in names, f"SAN {want} missing: {names}"
    assert {"IP Address:0:0:0:0:0:0:0:1", "IP Address:::1"} & names, f"SAN ::1 missing: {names}"
    verify = openssl("verify", "-CAfile", str(tls / "ca.crt"), str(tls / "server.crt"))
    assert verify.returncode == 0 and "OK" in verify.stdout, f"server.crt does not verify against ca.crt: {verify}"


def test_init_san_adds_names_and_refuses_anything_else(tmp_path):
    d = tmp_path / "san"
    proc = aegis("init", "--data-dir", d, "--json", "--san", "aegis.internal", "--san", "10.1.2.3",
                 "--san", "fd00::7")
    assert proc.returncode == 0, describe(proc)
    text = openssl("x509", "-in", str(d / "tls" / "server.crt"), "-noout", "-ext", "subjectAltName").stdout
    for want in ("DNS:localhost", "DNS:aegis.internal", "IP Address:127.0.0.1", "IP Address:10.1.2.3",
                 "IP Address:FD00:0:0:0:0:0:0:7"):
        assert want.lower() in text.lower(), f"{want} missing: {text}"
    for bad in ("*.example.com", "10.0.0.1/8"):  # the rule in full: host_port_test.cc
        target = tmp_path / ("bad" + str(abs(hash(bad))))
        proc = aegis("init", "--data-dir", target, "--san", bad)
        assert_one_line_error(proc, "aegis: ")
        assert "--san" in proc.stderr and "neither a DNS name" in proc.stderr, describe(proc)
        assert not target.exists(), f"a refused --san {bad!r} left {target}"


def test_a_single_server_names_no_replica_unless_asked(fresh, tmp_path):
    # Without --store-url the log keeps the single-server format (no replica member).
    assert json.loads(fresh.proc_init.stdout)["replica_id"] is None
    assert not (fresh.dir / "audit" / "replica_id").exists()
    named = tmp_path / "named"
    proc = aegis("init", "--data-dir", named, "--replica-id", "edge-7", "--json")
    assert proc.returncode == 0, describe(proc)
    assert json.loads(proc.stdout)["replica_id"] == "edge-7"
    segment = next((named / "audit").glob("segment-*.jsonl"))
    assert '"replica":"edge-7"' in segment.read_text()
    for bad in ("", "-x", "a b", "x" * 64, "caf\u00e9", "a/b"):
        target = tmp_path / ("bad" + str(abs(hash(bad))))
        proc = aegis("init", "--data-dir", target, "--replica-id", bad)
        assert_one_line_error(proc, "aegis: ")
        assert "--replica-id" in proc.stderr, describe(proc)
        assert not target.exists(), f"a refused --replica-id {bad!r} left {target}"


def test_token_not_stored_in_clear(fresh):
    token = json.loads(fresh.proc_init.stdout)["admin_token"]
    hits = find_in_tree(fresh.dir, [token.encode()])
    assert not hits, f"admin token found in clear in {hits}"


def test_reinit_refused_and_nothing_changed(fresh):
    before = snapshot_tree(fresh.dir)
    proc = aegis("init", "--data-dir", fresh.dir, "--json")
    assert_one_line_error(proc)
    after = snapshot_tree(fresh.dir)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"re-running init changed {changed}"
    token = json.loads(fresh.proc_init.stdout)["admin_token"]
    assert token not in proc.stdout + proc.stderr, "re-init printed the existing admin token"


@pytest.mark.parametrize("problem", ["key of another certificate", "not a key", "missing key file"])
def test_init_refuses_unusable_own_tls(tmp_path, problem):
    """A certificate/key pair the server could not load is refused at init, and no
    installation (not even a partial one) is left behind."""
    cert, key, other = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "other.pem"
    p = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
                "-out", str(cert), "-subj", "/CN=localhost", "-days", "2")
    assert p.returncode == 0, p
    p = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(other))
    assert p.returncode == 0, p
    if problem == "key of another certificate":
        use_key = other
    elif problem == "not a key":
        use_key = tmp_path / "junk.pem"
        use_key.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    else:
        use_key = tmp_path / "absent.pem"
    target = tmp_path / "inst"
    proc = aegis("init", "--data-dir", str(target), "--tls-cert", str(cert), "--tls-key", str(use_key))
    assert_one_line_error(proc, "aegis: ")
    assert not target.exists(), "a refused init left the data directory behind"
    assert [x.name for x in tmp_path.iterdir() if x.name.startswith(".")] == [], "staging directory left behind"


def test_serve_with_flags_from_init_and_own_tls(tmp_path):
    """init --listen/--admin-listen/--tls-cert/--tls-key; serve without listen flags uses them."""
    # Our own CA and an ECDSA P-256 server certificate for localhost/127.0.0.1.
    ca_key, ca_crt = tmp_path / "myca.key", tmp_path / "myca.crt"
    key, csr, crt = tmp_path / "my.key", tmp_path / "my.csr", tmp_path / "my.crt"
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    for args in (["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ca_key],
                 ["req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=Test CA", "-days", "2", "-out", ca_crt],
                 ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                 ["req", "-new", "-key", key, "-subj", "/CN=localhost", "-out", csr],
                 ["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
                  "-extfile", ext, "-out", crt]):
        p = openssl(*map(str, args))
        assert p.returncode == 0, p
    os.chmod(key, 0o600)
    inst = Installation(tmp_path / "inst")
    inst.init("--listen", f"127.0.0.1:{inst.data_port}", "--admin-listen", f"127.0.0.1:{inst.admin_port}",
              "--tls-cert", str(crt), "--tls-key", str(key))
    inst.ca = str(ca_crt)
    cfg = tomllib.loads(inst.config_path.read_text())
    assert "ca" not in cfg["tls"], f"init --tls-cert named a CA it did not make: {cfg['tls']}"
    # The operator names the CA that issued their certificate: serve checks the chain against it.
    inst.set_config("tls", "ca", str(ca_crt))
    inst.start(listen_flags=False)
    try:
        for port in (inst.data_port, inst.admin_port):
            ctx = ssl.create_default_context(cafile=str(ca_crt))
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    der = s.getpeercert(binary_form=True)
            mine = first_cert_der(crt)
            assert der == mine, f"port {port} does not present the certificate given to init --tls-cert"
        r = inst.get("/v1/models", admin=True)
        assert r.status_code == 200, r.text
    finally:
        rc = inst.stop()
    assert rc == 0, f"serve exited {rc} after SIGTERM\n{inst.log_tail()}"


def serve_until_exit(inst, timeout: float = 60):
    """Runs `aegis serve` expecting it to refuse to start; fails the test if it keeps running."""
    try:
        return subprocess.run([AEGIS_BIN, "serve", "--data-dir", str(inst.dir), "--listen", f"127.0.0.1:{free_port()}",
                               "--admin-listen", f"127.0.0.1:{free_port()}"], env=clean_env(inst.env()),
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"serve kept running for {timeout} s (expected it to refuse to start); stderr: {e.stderr!r}")


@pytest.mark.parametrize("problem", ["missing file", "another CA", "not a certificate"])
def test_serve_refuses_a_certificate_that_tls_ca_did_not_issue(tmp_path, problem):
    """[tls] ca names the CA of the server certificate (init writes its own CA there): serve
    refuses to start, with one line naming the problem, when the file is missing, is not a
    certificate, or is a CA that did not issue tls.cert."""
    inst = Installation(tmp_path / "inst")
    inst.init()
    assert tomllib.loads(inst.config_path.read_text())["tls"].get("ca") == "tls/ca.crt"
    if problem == "missing file":
        inst.set_config("tls", "ca", "tls/nope.crt")
        expect = f"tls.ca: '{inst.dir / 'tls' / 'nope.crt'}' is not a readable file"
    elif problem == "not a certificate":
        inst.set_config("tls", "ca", "tls/server.key")
        expect = "holds no PEM certificate"
    else:
        other = Installation(tmp_path / "other")
        other.init()
        inst.set_config("tls", "ca", str(other.dir / "tls" / "ca.crt"))
        expect = "does not verify to the CA"
    proc = serve_until_exit(inst)
    assert_one_line_error(proc, "aegis: ")
    assert expect in proc.stderr, describe(proc)


class TestPassphrase:
    PASSPHRASE = "correct horse battery staple 8c1f"

    @pytest.fixture(scope="class")
    def sealed(self, tmp_path_factory):
        inst = Installation(tmp_path_factory.mktemp("sealed"), passphrase=self.PASSPHRASE)
        inst.init()
        return inst

    def test_sealed_kek(self, sealed):
        keys = sealed.dir / "keys"
        assert (keys / "kek.sealed").is_file(), f"keys/kek.sealed missing: {sorted(os.listdir(keys))}"
        assert not (keys / "kek.key").exists(), "kek.key written in clear although AEGIS_PASSPHRASE was set"
        hits = find_in_tree(sealed.dir, [self.PASSPHRASE.encode(), sealed.token.encode()])
        assert not hits, f"passphrase or token stored in clear: {hits}"

    def _serve_fails(self, sealed, env_passphrase):
        env = {k: v for k, v in os.environ.items()
               if k not in ("AEGIS_PASSPHRASE", "AEGIS_SERVER", "AEGIS_TOKEN", "AEGIS_CACERT")}
        if env_passphrase is not None:
            env["AEGIS_PASSPHRASE"] = env_passphrase
        try:
            return subprocess.run([AEGIS_BIN, "serve", "--data-dir", str(sealed.dir), "--listen",
                                   f"127.0.0.1:{free_port()}", "--admin-listen", f"127.0.0.1:{free_port()}"],
                                  env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"serve kept running for 60 s with AEGIS_PASSPHRASE={env_passphrase!r} "
                        f"(expected a non-zero exit); stderr: {e.stderr!r}")

    def test_serve_wrong_passphrase_fails(self, sealed):
        proc = self._serve_fails(sealed, "wrong passphrase")
        assert_one_line_error(proc)
        assert "AEGIS_PASSPHRASE does not open" in proc.stderr, describe(proc)

    def test_serve_without_passphrase_fails(self, sealed):
        proc = self._serve_fails(sealed, None)
        assert_one_line_error(proc)
        assert "is sealed: set AEGIS_PASSPHRASE" in proc.stderr and "kek.sealed" in proc.stderr, describe(proc)

    def test_serve_with_passphrase(self, sealed):
        sealed.start()
        try:
            r = sealed.get("/v2")
            assert r.status_code == 200, r.text
        finally:
            rc = sealed.stop()
        assert rc == 0, sealed.log_tail()

"""The live dashboard (issue 4): its static files on the control plane, checked as raw
HTTP, and the page itself in a real browser (Debian's chromium driven by
playwright-core from tests/browser/) against a real server.

The browser trusts the installation's own CA through an NSS database made with
certutil in a throw-away HOME: no certificate errors are ignored.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import uuid

import pytest

from aegis_testlib import EXAMPLES, REPO, aegis, assert_build_revision, describe, infer_body, project_version, \
    reference_case, start_installation, stop_and_check
from identity_lib import call, parse_totp_uri, strong_password

BROWSER_DIR = REPO / "tests" / "browser"
ARTIFACTS = REPO / "build" / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
EXPECTED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
ASSETS = {"/": "text/html", "/dashboard/app.js": "text/javascript", "/dashboard/app.css": "text/css",
          "/dashboard/favicon.svg": "image/svg+xml"}
SOURCES = {"/": "index.html", "/dashboard/app.js": "app.js", "/dashboard/app.css": "app.css",
           "/dashboard/favicon.svg": "favicon.svg"}


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("aegis-dashboard"))
    yield inst
    stop_and_check(inst)


def get(inst, path, method="GET", **kw):
    return call(inst, method, path, admin=True, **kw)


def assert_hardened(r):
    assert r.headers.get("Content-Security-Policy") == EXPECTED_CSP, r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    assert r.headers.get("Referrer-Policy") == "no-referrer", r.headers
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    assert r.headers.get("X-Frame-Options") == "DENY", r.headers


# --------------------------------------------------------------------------- raw HTTP


@pytest.mark.parametrize("path", list(ASSETS))
def test_assets_served_without_credential_with_strict_headers(inst, path):
    r = get(inst, path)
    assert r.status_code == 200, r
    assert r.headers["Content-Type"].split(";")[0] == ASSETS[path], r.headers
    assert "charset=utf-8" in r.headers["Content-Type"], r.headers
    assert_hardened(r)
    # Embedded at build time: exactly the bytes of the source file.
    assert r.content == (REPO / "src" / "api" / "dashboard" / SOURCES[path]).read_bytes()


def test_head_has_the_headers_and_no_body(inst):
    r = get(inst, "/dashboard/app.js", method="HEAD")
    assert r.status_code == 200 and r.content == b"", r
    assert_hardened(r)


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/app.jsx", "/dashboard/index.html", "/dashboard/app.js/x",
                                  "/dashboard/APP.JS", "/dashboard/embed_assets.cmake", "/index.html", "/app.js"])
def test_other_dashboard_paths_are_404(inst, path):
    r = get(inst, path, bearer=inst.token)
    assert r.status_code == 404, r
    if path.startswith("/dashboard"):
        assert_hardened(r)


def test_other_methods_are_refused(inst):
    for method in ("POST", "PUT", "DELETE"):
        r = get(inst, "/", method=method, body=b"x")
        assert r.status_code == 405 and r.headers.get("Allow") == "GET, HEAD", r
        assert_hardened(r)


def test_dashboard_is_not_on_the_data_plane(inst):
    for path in ASSETS:
        r = call(inst, "GET", path, admin=False, bearer=inst.token)
        assert r.status_code == 404, r


def test_an_invalid_credential_does_not_matter_for_static_files(inst):
    # The files hold no data; a wrong token neither blocks them nor is needed.
    r = get(inst, "/", bearer="aegis_0000000000000000_" + "A" * 43)
    assert r.status_code == 200, r


def test_page_loads_are_audited(inst):
    r = get(inst, "/dashboard/app.css")
    assert r.status_code == 200
    event = inst.wait_audit(lambda e: e.get("action") == "dashboard.page" and e.get("resource") == "dashboard:/dashboard/app.css"
                            and e.get("status") == 200, what="dashboard.page event")
    assert event["listener"] == "admin" and event["principal"] == "anonymous", event


def code_of(text: str) -> str:
    """The text without comments (whole-line // comments, /* */ and <!-- -->)."""
    text = re.sub(r"/\*.*?\*/|<!--.*?-->", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def test_assets_reference_nothing_outside_and_run_nothing_inline():
    html = code_of((REPO / "src/api/dashboard/index.html").read_text())
    js = code_of((REPO / "src/api/dashboard/app.js").read_text())
    css = code_of((REPO / "src/api/dashboard/app.css").read_text())
    icon = (REPO / "src/api/dashboard/favicon.svg").read_text()
    # The only absolute URL anywhere is the SVG namespace name (an identifier, never fetched),
    # and nothing is protocol-relative ("//host/...").
    for name, text in (("index.html", html), ("app.js", js), ("app.css", css), ("favicon.svg", icon)):
        rest = text.replace("'http://www.w3.org/2000/svg'", "").replace('"http://www.w3.org/2000/svg"', "")
        urls = re.findall(r"[a-z][a-z0-9+.-]*:/[^\s'\"<>)]*|['\"(]//[^\s'\"<>)]*", rest, re.I)
        assert not urls, f"{name} names URLs outside the page: {urls}"
    assert "@import" not in css and "url(" not in css
    # Every src/href in the page points at our own two files.
    refs = re.findall(r"\b(?:src|href)\s*=\s*\"([^\"]*)\"", html)
    assert sorted(refs) == ["/dashboard/app.css", "/dashboard/app.js", "/dashboard/favicon.svg"], refs
    # The icon is a picture only: no script, no link, no reference to anything.
    assert not re.search(r"<script|\son[a-z]+\s*=|href|<foreignObject|<use\b|<image\b", icon, re.I), icon
    # No inline script, inline style or event-handler attributes (the CSP would block them anyway).
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/dashboard/app.js" defer>'], html
    assert not re.search(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=", html, re.I)
    # No HTML-from-strings or eval paths in the script.
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                   "localStorage", "sessionStorage", "document.cookie", "setAttribute('style'", "javascript:"):
        assert banned not in js, f"app.js uses {banned}"


# --------------------------------------------------------------------------- real browser


def ensure_node_modules():
    """npm ci from the lockfile when node_modules is missing (CI starts without it)."""
    if (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        return
    npm = shutil.which("npm")
    assert npm, "npm not found: scripts/setup.sh installs nodejs (with npm)"
    p = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(BROWSER_DIR)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"npm ci failed\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"


def trusting_home(tmp_path: pathlib.Path, ca: str) -> pathlib.Path:
    """A HOME whose NSS database trusts the installation's CA (for chromium)."""
    certutil = shutil.which("certutil")
    assert certutil, "certutil not found: scripts/setup.sh installs libnss3-tools"
    home = tmp_path / "browser-home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "aegis", "-i", ca]):
        p = subprocess.run([certutil, "-d", f"sql:{nssdb}", *args], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"certutil {args} failed: {p.stdout} {p.stderr}"
    return home


def add_auditor(inst, name: str):
    password = strong_password()
    p = aegis("user", "add", name, "--role", "auditor", "--password-stdin", "--json", *inst.cli_flags(),
              input=password + "\n")
    assert p.returncode == 0, describe(p)
    return password, parse_totp_uri(json.loads(p.stdout)["totp_uri"], name)


def test_dashboard_in_chromium(inst, tmp_path):
    assert os.access(CHROMIUM, os.X_OK), "chromium not installed: scripts/setup.sh installs it"
    ensure_node_modules()
    password, secret = add_auditor(inst, "dana")
    # An incident for the page to show: ten failed logins lock a name (brute_force).
    ghost = f"ghost{uuid.uuid4().hex[:8]}"
    for _ in range(10):
        r = call(inst, "POST", "/v1/login", json_body={"user": ghost, "password": "x" * 12, "totp": "000000"})
        assert r.status_code == 401, r.text
    # What the security tiles must show from real server data: a failed login under a hostile
    # user name (the denials list), an unsigned push (an integrity failure), and a token without
    # expiry that is never used, named like markup (token names are printable ASCII, no spaces).
    hostile_user = '<img src=x onerror="window.__pwned=1">'
    r = call(inst, "POST", "/v1/login", json_body={"user": hostile_user, "password": "x" * 12, "totp": "000000"})
    assert r.status_code == 401, r.text
    r = inst.push("tampered", "1", EXAMPLES / "mlp.pt", "torchscript", sign=False)
    assert r.status_code == 422 and "integrity check failed" in r.text, r.text
    hostile_token = "<img/src=x/onerror=window.__pwned=2>"
    r = inst.post("/v1/tokens", admin=True, json={"name": hostile_token, "role": "consumer"})
    assert r.status_code == 201, r.text
    # The build the badge must name: CMake's version, and the revision the server exports
    # (test_metrics.py ties aegis_build_info to `aegis --version` and git).
    metrics = inst.get("/metrics", admin=True)
    assert metrics.status_code == 200, metrics.text[:300]
    m = re.search(r'^aegis_build_info\{[^}]*revision="([^"]+)"[^}]*\} 1', metrics.text, re.M)
    assert m, [line for line in metrics.text.splitlines() if "build_info" in line]
    assert_build_revision(m.group(1))
    screenshot = ARTIFACTS / "dashboard.png"
    if screenshot.exists():
        screenshot.unlink()
    config = {
        "admin_url": f"https://127.0.0.1:{inst.admin_port}",
        "data_url": f"https://127.0.0.1:{inst.data_port}",
        "ca_cert": inst.ca,
        "browser_home": str(trusting_home(tmp_path, inst.ca)),
        "user": "dana", "password": password, "totp_secret": secret,
        "admin_token": inst.token,
        "model": "mlp_onnx",
        "infer_body": json.dumps(infer_body(reference_case("mlp_onnx")[0])),
        "screenshot": str(screenshot),
        "incident_subject": f"user:{ghost}",
        "admin_token_id": inst.token.split("_")[1],
        "version": project_version(), "revision": m.group(1),
        "hostile_user": hostile_user, "hostile_token_name": hostile_token, "integrity_model": "tampered",
    }
    p = subprocess.run(["node", str(BROWSER_DIR / "dashboard.test.mjs")], input=json.dumps(config),
                       capture_output=True, text=True, timeout=110, cwd=BROWSER_DIR)
    try:
        report = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"the browser test printed no JSON report (exit {p.returncode})\n"
                    f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}")
    failed = [c for c in report["checks"] if not c["ok"]]
    assert p.returncode == 0 and report["ok"] and not failed, (
        f"exit {p.returncode}; failed checks: {json.dumps(failed, indent=1)}\n"
        f"passed: {[c['name'] for c in report['checks'] if c['ok']]}\n"
        f"error: {report.get('error')}\nconsole: {report.get('console_errors')}\n"
        f"stderr: {p.stderr[-2000:]}\n{inst.log_tail()}")
    names = {c["name"] for c in report["checks"]}
    assert {"no CSP violations", "no console errors", "allowed counter grew by the inferences",
            "opened incident listed with its kind", "incident timeline shows when it opened",
            "audit tree size grew", "wrong password shows an error", "CSP blocks injected inline script",
            "favicon served by the server", "version badge shows version and revision",
            "denials drawn apart from allowed traffic", "recent denials list who, from where and why",
            "a hostile user name is shown as text in the denials", "integrity failures counted and listed",
            "break-glass admin token flagged while active", "tokens without expiry listed",
            "unused token listed, used one not", "server strings (user and token names) stay text"} <= names
    assert screenshot.stat().st_size > 10000
    # The server's side of the story: the page loads, the login and the reads are audited.
    events = inst.audit_events()
    assert any(e.get("action") == "dashboard.page" and e.get("resource") == "dashboard:/" for e in events)
    assert any(e.get("action") == "dashboard.read" and e.get("principal", "").endswith("dana") for e in events)
    assert any(e.get("action") == "login" and e.get("decision") == "deny" and "dana" in e.get("principal", "")
               for e in events)


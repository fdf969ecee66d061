"""People (issue 5): users with a password and TOTP, `POST /v1/login` sessions, the CLI's
`user add` / `login` / `logout` and its saved session, replay guard, lockout, no user
enumeration (answers and timing), the per-address throttle, sensitive actions, disabling,
logout, and secrets kept out of the audit log.

TOTP codes are computed here (RFC 6238 with hmac/hashlib), independently of Aegis. Each
test that fails logins on purpose uses its own loopback source address (127.0.0.x), so the
per-address throttle (30 failures / 10 min) of one test cannot spill into another.
"""

import json
import os
import statistics
import stat
import time

import pytest

from aegis_testlib import RFC3339, Installation, stop_and_check
from identity_lib import (start_with_models, LOGIN_FAILED, audit_blob, SESSION_RE, THROTTLED, User, call, check_401, cli,
                          create_user, current_step, event_for, json_error, login, login_session, mlp_infer_body,
                          new_events, one_line_error, parse_totp_uri, rfc3339_to_epoch, strong_password, totp)


PROXY = "127.0.0.2"


class Env:
    def __init__(self, inst):
        self.inst = inst
        self.secrets = []  # passwords, TOTP secrets, sessions that must never reach the audit log

    def user(self, name, role, models=None, via_cli=False):
        u = create_user(self.inst, name, role, models)
        self.secrets += [u.password, u.secret]
        return u

    def session(self, u, source=None):
        s = login_session(self.inst, u, source=source)
        self.secrets.append(s)
        return s


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    inst = Installation(tmp_path_factory.mktemp("login"))
    inst.init()
    # 127.0.0.2 stands for a reverse proxy (test_trusted_proxy_*); no other test connects from it.
    text = inst.config_path.read_text()
    assert "trusted_proxies = []" in text, "aegis init no longer writes trusted_proxies"
    inst.config_path.write_text(text.replace("trusted_proxies = []", f'trusted_proxies = ["{PROXY}/32"]'))
    start_with_models(inst)
    yield Env(inst)
    stop_and_check(inst)


def infer(inst, model, bearer):
    return call(inst, "POST", f"/v2/models/{model}/infer", bearer=bearer, json_body=mlp_infer_body())


# --------------------------------------------------------------------------- TOTP itself


def test_totp_implementation_matches_rfc6238_vectors():
    """The test's own TOTP (RFC 6238 appendix B, SHA-1 key, truncated to 6 digits)."""
    import base64
    secret = base64.b32encode(b"12345678901234567890").decode()
    for t, code8 in ((59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"), (2000000000, "69279037")):
        assert totp(secret, t // 30) == code8[-6:]


# --------------------------------------------------------------------------- enrolment


def test_user_add_via_cli(env, tmp_path):
    inst = env.inst
    password = strong_password()
    p = cli(inst, "user", "add", "carol", "--role", "deployer", "--models", "fraud-*", "--password-stdin", "--json",
            token=inst.token, input=password + "\n")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    secret = parse_totp_uri(out["totp_uri"], "carol")
    assert (out.get("name"), out.get("role"), out.get("models")) == ("carol", "deployer", "fraud-*"), out
    assert password not in p.stdout + p.stderr, "the password is echoed"
    env.secrets += [password, secret]
    u = User("carol", "deployer", "fraud-*", password, secret)
    s = env.session(u)
    r = call(inst, "GET", "/v1/models", bearer=s)
    assert r.status_code == 200 and {m["name"] for m in r.json()["models"]} == {"fraud-mlp"}, r
    users = {x["name"]: x for x in call(inst, "GET", "/v1/users", bearer=inst.token).json()["users"]}
    c = users["carol"]
    assert (c["role"], c["models"], c["disabled"], c["locked"]) == ("deployer", "fraud-*", False, False), c
    assert RFC3339.match(c["created_at"]) and c["created_by"], c
    p = cli(inst, "user", "list", "--json", token=inst.token)
    assert p.returncode == 0 and "carol" in p.stdout, p.stderr
    assert password not in p.stdout and secret not in p.stdout, "user list shows a secret"
    # Without --json: the otpauth URI is printed (with a QR code for a terminal).
    p = cli(inst, "user", "add", "carol2", "--role", "consumer", "--password-stdin", token=inst.token,
            input=strong_password() + "\n")
    assert p.returncode == 0 and "otpauth://totp/Aegis:carol2?" in p.stdout, p.stdout[-500:] + p.stderr


def test_user_add_via_api(env):
    inst = env.inst
    pw = strong_password()
    r = call(inst, "POST", "/v1/users", bearer=inst.token,
             json_body={"name": "dave", "role": "consumer", "models": "fraud-*", "password": pw})
    assert r.status_code == 201, r
    j = r.json()
    assert set(j) >= {"name", "role", "models", "totp_uri"} and "password" not in j, j
    env.secrets += [pw, parse_totp_uri(j["totp_uri"], "dave")]
    r = call(inst, "POST", "/v1/users", bearer=inst.token,
             json_body={"name": "dave", "role": "consumer", "password": strong_password()})
    assert r.status_code == 409 and json_error(r), f"adding an existing user -> {r!r}"


@pytest.mark.parametrize("body,what", [
    ({"name": "weak1", "role": "consumer", "password": "short-pw-11"}, "an 11-character password"),
    ({"name": "weak2", "role": "consumer", "password": ""}, "an empty password"),
    ({"name": "bad name", "role": "consumer", "password": "long enough password"}, "a name with a space"),
    ({"name": "-dash", "role": "consumer", "password": "long enough password"}, "a name starting with '-'"),
    ({"name": "x" * 65, "role": "consumer", "password": "long enough password"}, "a 65-character name"),
    ({"name": "role1", "role": "root", "password": "long enough password"}, "an unknown role"),
    ({"name": "role2", "role": "admin", "models": "fraud-*", "password": "long enough password"}, "a scoped admin"),
    ({"name": "role3", "role": "auditor", "models": "fraud-*", "password": "long enough password"},
     "a scoped auditor"),
    ({"name": "glob1", "role": "consumer", "models": "fraud-[", "password": "long enough password"}, "a bad glob"),
    ({"name": "nopw", "role": "consumer"}, "no password"),
])
def test_bad_user_add_is_400(env, body, what):
    r = call(env.inst, "POST", "/v1/users", bearer=env.inst.token, json_body=body)
    assert r.status_code == 400 and json_error(r), f"{what} -> {r!r}"
    users = call(env.inst, "GET", "/v1/users", bearer=env.inst.token).json()["users"]
    assert body["name"] not in {u["name"] for u in users}, f"{what} created the user anyway"


def test_weak_password_via_cli_is_refused(env):
    p = cli(env.inst, "user", "add", "weakcli", "--role", "consumer", "--password-stdin", token=env.inst.token,
            input="elevenchars\n")
    problem = one_line_error(p)
    assert problem is None, problem
    users = call(env.inst, "GET", "/v1/users", bearer=env.inst.token).json()["users"]
    assert "weakcli" not in {u["name"] for u in users}


# --------------------------------------------------------------------------- login over the API


def test_login_session_and_whoami(env):
    inst = env.inst
    u = env.user("erin", "consumer", "fraud-*")
    before = time.time()
    r = login(inst, u)
    assert r.status_code == 200, r
    j = r.json()
    env.secrets.append(j.get("session", ""))
    assert SESSION_RE.match(j["session"]), j
    assert (j["user"], j["role"], j["models"], j["idle_timeout_seconds"]) == ("erin", "consumer", "fraud-*", 900), j
    assert RFC3339.match(j["expires_at"]), j
    assert 8 * 3600 - 120 <= rfc3339_to_epoch(j["expires_at"]) - before <= 8 * 3600 + 120, j
    w = call(inst, "GET", "/v1/whoami", bearer=j["session"])
    assert w.status_code == 200, w
    wj = w.json()
    assert (wj["principal"], wj["method"], wj["grants"]) == ("user:erin", "session", ["consumer:fraud-*"]), wj
    assert RFC3339.match(wj.get("mfa_at") or ""), wj
    assert abs(rfc3339_to_epoch(wj["mfa_at"]) - before) < 120, wj
    # A consumer session on the data plane: in scope yes, out of scope no.
    r = infer(inst, "fraud-mlp", j["session"])
    assert r.status_code == 200, r
    e = event_for(inst, r)
    assert (e.get("principal"), e.get("auth_method"), e.get("grant"), e.get("decision")) == \
        ("user:erin", "session", "consumer:fraud-*", "allow"), e
    r = infer(inst, "other-mlp", j["session"])
    assert r.status_code == 403, r
    e = event_for(inst, r)
    assert (e.get("principal"), e.get("decision")) == ("user:erin", "deny"), e
    # The consumer's control plane is whoami and logout only.
    for path in ("/v1/models", "/v1/audit", "/v1/tokens"):
        assert call(inst, "GET", path, bearer=j["session"]).status_code == 403, path
    r = call(inst, "POST", "/v1/logout", bearer=j["session"])
    assert r.status_code == 200 and r.json() == {"logged_out": True}, r
    for r in (infer(inst, "fraud-mlp", j["session"]), call(inst, "GET", "/v1/whoami", bearer=j["session"])):
        problem = check_401(r, "a logged-out session")
        assert problem is None, problem


def test_replayed_code_is_refused(env):
    inst = env.inst
    u = env.user("frank", "consumer", "fraud-*")
    code, step = u.next_code()
    r1 = login(inst, u, code=code, source="127.0.0.6")
    assert r1.status_code == 200, r1
    env.secrets.append(r1.json()["session"])
    u.last_step = step
    r2 = login(inst, u, code=code, source="127.0.0.6")
    assert r2.status_code == 401 and r2.json() == LOGIN_FAILED, f"a replayed TOTP code -> {r2!r}"
    # An older step is a replay too; a wrong code and a malformed one are plain failures.
    for bad in (totp(u.secret, step - 1), "000000" if code != "000000" else "111111", "12345", "abcdef"):
        r = login(inst, u, code=bad, source="127.0.0.6")
        assert r.status_code == 401 and r.json() == LOGIN_FAILED, f"code {bad!r} -> {r!r}"
    e = event_for(inst, r2)
    assert e.get("decision") == "deny" and e.get("status") in (None, 401), e
    # A fresh step still works.
    env.session(u)


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"user": "x"}', b'{"user": "x", "password": "y"}',
                                  b'{"user": 1, "password": "y", "totp": "123456"}', b"null"])
def test_malformed_login_is_400(env, body):
    r = call(env.inst, "POST", "/v1/login", body=body, headers={"Content-Type": "application/json"},
             source="127.0.0.7")
    assert r.status_code == 400 and json_error(r), f"POST /v1/login {body!r} -> {r!r}"


def test_oversized_login_body_is_refused(env):
    body = json.dumps({"user": "x", "password": "p" * 9000, "totp": "123456"}).encode()
    r = call(env.inst, "POST", "/v1/login", body=body, headers={"Content-Type": "application/json"},
             source="127.0.0.7")
    assert r.status_code in (400, 413) and json_error(r), f"a 9 KB login body -> {r!r}"


def test_lockout_after_ten_failures(env):
    inst = env.inst
    victim = env.user("grace", "consumer", "fraud-*")
    bystander = env.user("heidi", "consumer", "fraud-*")
    for i in range(10):
        r = login(inst, victim, password=victim.password + "x", source="127.0.0.4")
        assert r.status_code == 401 and r.json() == LOGIN_FAILED, f"wrong password #{i + 1} -> {r!r}"
    r = login(inst, victim, source="127.0.0.4")
    assert r.status_code == 401 and r.json() == LOGIN_FAILED, \
        f"the right password and code after 10 failures must still fail (locked): {r!r}"
    r = login(inst, victim)  # another address: still locked (the lock is on the account)
    assert r.status_code == 401, f"a locked account logged in from another address: {r!r}"
    users = {x["name"]: x for x in call(inst, "GET", "/v1/users", bearer=inst.token).json()["users"]}
    assert users["grace"]["locked"] is True and users["heidi"]["locked"] is False, (users["grace"], users["heidi"])
    env.session(bystander, source="127.0.0.4")  # other accounts are unaffected, even from that address


def test_no_user_enumeration(env):
    """Unknown user and wrong password: the same status and body, and similar time."""
    inst = env.inst
    u = env.user("ivan", "consumer", "fraud-*")
    src = "127.0.0.5"
    login(inst, User("nobody-warmup", "consumer", "*", "x" * 16, u.secret), source=src)  # warm up
    unknown, wrong = [], []
    bodies = set()
    for i in range(5):
        for kind in ("unknown", "wrong"):
            target = User(f"nosuch{i}", "consumer", "*", u.password, u.secret) if kind == "unknown" else u
            t0 = time.perf_counter()
            r = login(inst, target, password=u.password + "!" if kind == "wrong" else None,
                      code=totp(u.secret, current_step()), source=src)
            dt = time.perf_counter() - t0
            (unknown if kind == "unknown" else wrong).append(dt)
            bodies.add((kind, r.status_code, r.content, r.headers.get("Content-Type")))
    answers = {(s, b, ct) for _, s, b, ct in bodies}
    assert len(answers) == 1, f"unknown user and wrong password answer differently: {sorted(bodies)}"
    status, body, _ = answers.pop()
    assert status == 401 and json.loads(body) == LOGIN_FAILED, (status, body)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2.0, (f"timing tells unknown users apart: median {statistics.median(unknown) * 1000:.1f} ms "
                                 f"vs {statistics.median(wrong) * 1000:.1f} ms (ratio {ratio:.2f})")


def test_per_address_throttle(env):
    """Past 30 failures from one address, a name that failed from there waits a minute
    (429, Retry-After <= 60), but the right credentials of anyone else still get in: the
    address may be shared (issue 16)."""
    inst = env.inst
    src = "127.0.0.3"
    u = env.user("judy", "consumer", "fraud-*")
    statuses = []
    for i in range(30):
        r = login(inst, User(f"ghost{i}", "consumer", "*", "wrong-password-123", u.secret), code="123456",
                  source=src)
        statuses.append(r.status_code)
    assert statuses == [401] * 30, f"the first 30 failures must be plain 401s: {statuses}"
    # "more than 30 failures": a name that failed is refused at the 31st or at the latest the 32nd attempt.
    for _ in range(2):
        r = login(inst, User("ghost0", "consumer", "*", "wrong-password-123", u.secret), code="123456",
                  source=src)
        if r.status_code == 429:
            break
        assert r.status_code == 401, r
    assert r.status_code == 429 and r.json() == THROTTLED, f"failures #31/#32 from {src} -> {r!r}"
    retry = r.headers.get("Retry-After", "")
    assert retry.isdigit() and 0 < int(retry) <= 60, f"Retry-After {retry!r}"
    e = event_for(inst, r)
    assert (e.get("decision"), e.get("reason")) == ("deny", "source throttled"), e
    # The right password and code of someone who has not failed from there: in at once.
    env.session(u, source=src)
    env.session(u)  # 127.0.0.1 is another address: unaffected


def test_trusted_proxy_forwarded_client_is_throttled_and_audited(env):
    """From a trusted proxy the rightmost X-Forwarded-For address is the source for the
    throttle and the audit log; from any other peer, and when malformed, the header is
    ignored."""
    inst = env.inst
    u = env.user("victor", "consumer", "fraud-*")

    def attempt(name, xff, source=PROXY):
        body = {"user": name, "password": "wrong-password-123", "totp": "123456"}
        return call(inst, "POST", "/v1/login", json_body=body, source=source,
                    headers={"X-Forwarded-For": xff} if xff is not None else None)

    before = len(inst.audit_events())
    for i in range(30):
        r = attempt(f"spray{i}", "198.51.100.99, 203.0.113.50")
        assert r.status_code == 401, (i, r)
    r = attempt("spray0", "203.0.113.50")
    assert r.status_code == 429, f"the forwarded client was not throttled: {r!r}"
    # The audit log names the forwarded client (without a port: none is known), not the proxy.
    forwarded = new_events(inst, before, lambda e: e.get("action") == "login" and e.get("remote") == "203.0.113.50",
                           minimum=31)
    assert len(forwarded) == 31 and forwarded[-1].get("reason") == "source throttled", forwarded[-1:]
    # Another forwarded client behind the same proxy is not slowed ...
    r = attempt("spray0", "203.0.113.51")
    assert r.status_code == 401, r
    assert new_events(inst, before, lambda e: e.get("remote") == "203.0.113.51"), "no event for 203.0.113.51"
    # ... nor is the proxy itself when the header is malformed (the peer is the source),
    r = attempt("spray0", "203.0.113.50, not-an-address")
    assert r.status_code == 401 and r.json() == LOGIN_FAILED, r
    assert event_for(inst, r).get("remote", "").startswith(f"{PROXY}:"), event_for(inst, r)
    # ... and a client that is no trusted proxy cannot pick its address by sending the header.
    r = attempt("spray0", "203.0.113.50", source="127.0.0.11")
    assert r.status_code == 401, f"X-Forwarded-For from an untrusted peer was believed: {r!r}"
    assert event_for(inst, r).get("remote", "").startswith("127.0.0.11:"), event_for(inst, r)
    # The right credentials from the throttled forwarded client still get in.
    code, step = u.next_code()
    r = call(inst, "POST", "/v1/login", json_body={"user": "victor", "password": u.password, "totp": code},
             source=PROXY, headers={"X-Forwarded-For": "203.0.113.50"})
    assert r.status_code == 200, r
    u.last_step = step
    env.secrets.append(r.json()["session"])


# --------------------------------------------------------------------------- sessions and sensitive actions


def test_fresh_admin_session_may_do_sensitive_actions(env):
    inst = env.inst
    admin = env.user("kate", "admin")
    s = env.session(admin)
    r = call(inst, "POST", "/v1/tokens", bearer=s, json_body={"name": "made-by-kate", "role": "consumer"})
    assert r.status_code == 201, f"a fresh admin session creating a token -> {r!r}"
    e = event_for(inst, r)
    assert (e.get("principal"), e.get("auth_method"), e.get("grant"), e.get("decision")) == \
        ("user:kate", "session", "admin:*", "allow"), e
    listed = {t["name"]: t for t in call(inst, "GET", "/v1/tokens", bearer=s).json()["tokens"]}
    assert "kate" in listed["made-by-kate"]["created_by"], listed["made-by-kate"]
    assert call(inst, "GET", "/v1/users", bearer=s).status_code == 200
    # A deployer's session is not an admin: sensitive actions are 403.
    dep = env.user("leo", "deployer", "fraud-*")
    ds = env.session(dep)
    r = call(inst, "POST", "/v1/tokens", bearer=ds, json_body={"name": "by-leo", "role": "consumer"})
    assert r.status_code == 403, r


def test_cli_user_disable(env):
    inst = env.inst
    u = env.user("quentin", "consumer", "fraud-*")
    s = env.session(u)
    p = cli(inst, "user", "disable", "quentin", token=inst.token)
    assert p.returncode == 0, p.stderr
    problem = check_401(call(inst, "GET", "/v1/whoami", bearer=s), "session of a user disabled by the CLI")
    assert problem is None, problem
    p = cli(inst, "user", "list", "--json", token=inst.token)
    assert p.returncode == 0, p.stderr
    users = {x["name"]: x for x in json.loads(p.stdout)["users"]}
    assert users["quentin"]["disabled"] is True, users["quentin"]
    problem = one_line_error(cli(inst, "user", "disable", "no-such-user", token=inst.token))
    assert problem is None, problem


def test_disabled_user_session_ends_at_once(env):
    inst = env.inst
    u = env.user("mallory", "consumer", "fraud-*")
    s = env.session(u)
    assert infer(inst, "fraud-mlp", s).status_code == 200
    r = call(inst, "POST", "/v1/users/mallory/disable", bearer=inst.token)
    assert r.status_code == 200 and r.json() == {"name": "mallory", "disabled": True}, r
    problem = check_401(infer(inst, "fraud-mlp", s), "the session of a disabled user")
    assert problem is None, problem
    r = login(inst, u)
    assert r.status_code == 401 and r.json() == LOGIN_FAILED, f"a disabled user logged in: {r!r}"
    users = {x["name"]: x for x in call(inst, "GET", "/v1/users", bearer=inst.token).json()["users"]}
    assert users["mallory"]["disabled"] is True
    r = call(inst, "POST", "/v1/users/nosuchuser/disable", bearer=inst.token)
    assert r.status_code == 404 and json_error(r), r


# --------------------------------------------------------------------------- account changes (issue 16)


def recent_events(inst, action, resource):
    r = call(inst, "GET", "/v1/audit?limit=200", bearer=inst.token)
    assert r.status_code == 200, r
    return [e for e in r.json()["events"] if e.get("action") == action and e.get("resource") == resource]


def test_cli_user_unlock_enable_reset_totp_remove(env):
    inst = env.inst
    u = env.user("rita", "consumer", "fraud-*")
    for _ in range(10):
        login(inst, u, password=u.password + "x", source="127.0.0.9")
    assert login(inst, u, source="127.0.0.9").status_code == 401, "not locked after 10 failures"
    p = cli(inst, "user", "unlock", "rita", token=inst.token)
    assert p.returncode == 0 and "unlocked user rita" in p.stdout, p.stderr
    s = env.session(u, source="127.0.0.9")  # the right password and code work at once

    assert call(inst, "POST", "/v1/users/rita/disable", bearer=inst.token).status_code == 200
    assert login(inst, u).status_code == 401
    p = cli(inst, "user", "enable", "rita", "--json", token=inst.token)
    assert p.returncode == 0 and json.loads(p.stdout) == {"disabled": False, "name": "rita"}, p.stdout + p.stderr
    s = env.session(u)

    # reset-totp shows the enrolment as `user add` does, once, and ends the sessions.
    p = cli(inst, "user", "reset-totp", "rita", token=inst.token)
    assert p.returncode == 0 and "Shown once" in p.stdout and "sessions have ended" in p.stdout, p.stdout + p.stderr
    uri = next(line for line in p.stdout.splitlines() if line.startswith("otpauth://totp/Aegis:rita?"))
    new_secret = parse_totp_uri(uri, "rita")
    assert new_secret != u.secret
    env.secrets.append(new_secret)
    problem = check_401(call(inst, "GET", "/v1/whoami", bearer=s), "a session from before reset-totp")
    assert problem is None, problem
    # The old authenticator no longer works (a current code of the old secret).
    r = login(inst, u, code=totp(u.secret, current_step()), source="127.0.0.10")
    assert r.status_code == 401 and r.json() == LOGIN_FAILED, r
    u.secret, u.last_step = new_secret, -1
    r = call(inst, "POST", "/v1/users/rita/reset-totp", bearer=inst.token)
    assert r.status_code == 200 and r.json()["sessions_ended"] is True, r
    u.secret, u.last_step = parse_totp_uri(r.json()["totp_uri"], "rita"), -1
    env.secrets.append(u.secret)

    s = env.session(u)
    p = cli(inst, "user", "remove", "rita", token=inst.token)
    assert p.returncode == 0 and "removed user rita" in p.stdout, p.stderr
    problem = check_401(call(inst, "GET", "/v1/whoami", bearer=s), "the session of a removed user")
    assert problem is None, problem
    users = {x["name"] for x in call(inst, "GET", "/v1/users", bearer=inst.token).json()["users"]}
    assert "rita" not in users
    assert login(inst, u).status_code == 401

    # Each change is audited with who did it.
    time.sleep(0.3)
    for action in ("user.unlock", "user.enable", "user.reset_totp", "user.remove"):
        events = recent_events(inst, action, "user:rita")
        assert events and events[-1]["principal"] == "token:admin" and events[-1]["decision"] == "allow", \
            (action, events[-1:])
    # Refused cleanly: unknown user, a name that cannot be one, missing rights.
    for args in (("unlock", "nobody-here"), ("reset-totp", "bad name")):
        problem = one_line_error(cli(inst, "user", *args, token=inst.token))
        assert problem is None, (args, problem)
    r = call(inst, "POST", "/v1/users/nobody-here/unlock", bearer=inst.token)
    assert r.status_code == 404 and json_error(r), r
    r = call(inst, "DELETE", "/v1/users/bad%20name", bearer=inst.token)
    assert r.status_code == 400 and "invalid user name" in (json_error(r) or ""), r
    dep = env.user("sven", "deployer", "fraud-*")
    ds = env.session(dep)
    for method, path in (("POST", "/v1/users/sven/unlock"), ("POST", "/v1/users/kate/reset-totp"),
                         ("DELETE", "/v1/users/sven"), ("POST", "/v1/users/sven/enable")):
        r = call(inst, method, path, bearer=ds)
        assert r.status_code == 403 and json_error(r), (method, path, r)


def test_an_admin_cannot_unlock_reset_or_remove_themself(env):
    inst = env.inst
    admin = env.user("tara", "admin")
    s = env.session(admin)
    for method, path in (("POST", "/v1/users/tara/unlock"), ("POST", "/v1/users/tara/reset-totp"),
                         ("DELETE", "/v1/users/tara")):
        r = call(inst, method, path, bearer=s)
        assert r.status_code == 403 and "another administrator" in (json_error(r) or ""), (method, path, r)
        e = event_for(inst, r)
        assert (e.get("principal"), e.get("decision")) == ("user:tara", "deny"), e
    assert call(inst, "GET", "/v1/whoami", bearer=s).status_code == 200, "a refused self-change ended the session"
    # Another admin's account is fair game for a fresh admin session.
    env.user("uma", "consumer")
    r = call(inst, "POST", "/v1/users/uma/reset-totp", bearer=s)
    assert r.status_code == 200 and r.json()["totp_uri"].startswith("otpauth://totp/Aegis:uma?"), r
    env.secrets.append(parse_totp_uri(r.json()["totp_uri"], "uma"))


# --------------------------------------------------------------------------- the CLI's saved session


def test_cli_login_saved_session_and_logout(env, tmp_path):
    inst = env.inst
    u = env.user("nina", "deployer", "fraud-*")
    session_file = tmp_path / "s" / "session.json"
    code, step = u.next_code()
    p = cli(inst, "login", "--user", "nina", "--password-stdin", "--totp", code, "--json",
            session_file=session_file, input=u.password + "\n")
    assert p.returncode == 0, p.stderr
    u.last_step = step
    out = json.loads(p.stdout)
    env.secrets.append(out["session"])
    assert SESSION_RE.match(out["session"]) and out["user"] == "nina" and RFC3339.match(out["expires_at"]), out
    assert os.path.realpath(out["session_file"]) == os.path.realpath(session_file), out
    assert session_file.is_file(), "no session file written"
    mode = stat.S_IMODE(session_file.stat().st_mode)
    assert mode == 0o600, f"session file mode {oct(mode)} (expected 0600)"
    assert u.password not in session_file.read_text(), "the password is in the session file"
    # Later commands without --token use the saved session (a deployer scoped to fraud-*).
    p = cli(inst, "model", "list", "--json", session_file=session_file)
    assert p.returncode == 0, p.stderr
    assert {m["name"] for m in json.loads(p.stdout)["models"]} == {"fraud-mlp"}, p.stdout
    r = call(inst, "GET", "/v1/whoami", bearer=out["session"])
    assert r.json().get("principal") == "user:nina", r
    # The saved session belongs to that server URL only: another URL (same server, other name) gets none.
    p = cli(inst, "model", "list", "--json", session_file=session_file, server=False,
            env={"AEGIS_SERVER": f"https://localhost:{inst.admin_port}", "AEGIS_CACERT": inst.ca})
    assert p.returncode == 1, f"the saved session was sent to another server URL\n{p.stdout}{p.stderr}"
    # A token given explicitly wins over the saved session.
    p = cli(inst, "model", "list", "--json", token=inst.token, session_file=session_file)
    assert p.returncode == 0 and "other-mlp" in p.stdout, p.stderr
    p = cli(inst, "logout", session_file=session_file)
    assert p.returncode == 0, p.stderr
    assert not session_file.exists(), "logout left the session file"
    problem = check_401(call(inst, "GET", "/v1/whoami", bearer=out["session"]), "session after `aegis logout`")
    assert problem is None, problem
    p = cli(inst, "model", "list", session_file=session_file)
    problem = one_line_error(p)
    assert problem is None, problem


def test_cli_login_default_location_and_failure(env, tmp_path):
    inst = env.inst
    u = env.user("olga", "deployer", "fraud-*")
    xdg = tmp_path / "xdg"
    # Without AEGIS_SESSION_FILE: $XDG_CONFIG_HOME/aegis/session.json
    code, step = u.next_code()
    p = cli(inst, "login", "--user", "olga", "--password-stdin", "--totp", code, session_file=False,
            env={"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path / "home")}, input=u.password + "\n")
    assert p.returncode == 0, p.stderr
    u.last_step = step
    f = xdg / "aegis" / "session.json"
    assert f.is_file() and stat.S_IMODE(f.stat().st_mode) == 0o600, f"expected {f} with mode 0600"
    env.secrets.append(json.loads(p.stdout or "{}").get("session", "") if p.stdout.strip().startswith("{") else "")
    # ... and a later command finds it there.
    p = cli(inst, "model", "list", session_file=False,
            env={"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path / "home")})
    assert p.returncode == 0 and "fraud-mlp" in p.stdout and "other-mlp" not in p.stdout, p.stdout + p.stderr
    # A wrong password: exit 1, one line, no file.
    other = tmp_path / "other.json"
    p = cli(inst, "login", "--user", "olga", "--password-stdin", "--totp", totp(u.secret, current_step()),
            session_file=other, input="definitely wrong password\n")
    problem = one_line_error(p)
    assert problem is None, problem
    assert not other.exists()


# --------------------------------------------------------------------------- last: secrets, restart


def test_secrets_never_in_audit_log(env):
    inst = env.inst
    assert len(env.secrets) > 10, "the earlier tests did not run"
    time.sleep(0.3)
    blob = audit_blob(inst)
    assert b'"user:' in blob, "the audit log has no user events at all"
    leaked = [s[:12] + "…" for s in env.secrets if s and s.encode() in blob]
    assert not leaked, f"{len(leaked)} secret(s) (passwords / TOTP secrets / sessions) found in the audit log: {leaked}"
    # Sessions: not even the secret half (the id alone may be logged).
    for s in env.secrets:
        if m := SESSION_RE.match(s):
            # The 43-character secret itself: split("_") would cut it short, since
            # base64url secrets contain '_', and a short fragment turns up by chance
            # in the signed heads' base64.
            assert m.group(2).encode() not in blob, "a session secret is in the audit log"


def test_a_session_survives_a_restart_but_not_a_logout(env):
    """Sessions are kept in the store (as a SHA-256 of the secret): a restart does not log
    everyone out; a logout before it still ends the session for good."""
    inst = env.inst
    u = env.user("peggy", "consumer", "fraud-*")
    kept, ended = env.session(u), env.session(u)
    assert infer(inst, "fraud-mlp", kept).status_code == 200
    assert call(inst, "POST", "/v1/logout", bearer=ended).status_code in (200, 204)
    assert inst.stop() == 0
    inst.start()
    inst.wait_ready(60)
    assert infer(inst, "fraud-mlp", kept).status_code == 200, "a session from before the restart"
    problem = check_401(infer(inst, "fraud-mlp", ended), "a session logged out before the restart")
    assert problem is None, problem

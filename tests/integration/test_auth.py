"""Bearer-token authentication on every endpoint except the two health probes."""

import base64

import pytest

from aegis_testlib import EXAMPLES, check_json_error

INFER_BODY = b'{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}'

# (label, admin plane?, method, path, body)
ENDPOINTS = [
    ("server metadata", False, "GET", "/v2", None),
    ("model metadata", False, "GET", "/v2/models/mlp_torch", None),
    ("model version metadata", False, "GET", "/v2/models/mlp_torch/versions/1", None),
    ("model ready", False, "GET", "/v2/models/mlp_torch/ready", None),
    ("model version ready", False, "GET", "/v2/models/mlp_torch/versions/1/ready", None),
    ("infer", False, "POST", "/v2/models/mlp_torch/infer", INFER_BODY),
    ("versioned infer", False, "POST", "/v2/models/mlp_torch/versions/1/infer", INFER_BODY),
    ("unknown model", False, "GET", "/v2/models/does_not_exist", None),
    ("list models", True, "GET", "/v1/models", None),
    ("audit", True, "GET", "/v1/audit?limit=5", None),
    ("push", True, "PUT", "/v1/models/auth_probe/versions/1?format=torchscript", "mlp.pt"),
    ("remove", True, "DELETE", "/v1/models/mlp_torch/versions/1", None),
]


def bad_credentials(token):
    return [
        ("no header", None),
        ("wrong token", "Bearer " + "A" * len(token)),
        ("token minus last char", "Bearer " + token[:-1]),
        ("token plus a char", "Bearer " + token + "x"),
        ("empty bearer", "Bearer "),
        ("token without scheme", token),
        ("basic auth with the token", "Basic " + base64.b64encode(f"admin:{token}".encode()).decode()),
    ]


def _send(server, admin, method, path, body, authorization):
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    data = (EXAMPLES / body).read_bytes() if isinstance(body, str) else body
    if method == "PUT":
        headers["Content-Type"] = "application/octet-stream"
    return server._request(method, path, admin, False, headers=headers, data=data)


@pytest.mark.parametrize("label,admin,method,path,body", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_unauthenticated_is_401(server, label, admin, method, path, body):
    failures = []
    for cred_label, authorization in bad_credentials(server.token):
        r = _send(server, admin, method, path, body, authorization)
        problem = None
        if r.status_code != 401:
            problem = f"status {r.status_code}"
        elif not (r.headers.get("WWW-Authenticate") or "").strip().lower().startswith("bearer"):
            problem = f"WWW-Authenticate={r.headers.get('WWW-Authenticate')!r}"
        else:
            try:
                j = r.json()
                if not (isinstance(j, dict) and isinstance(j.get("error"), str)):
                    problem = f"body {j!r}"
            except ValueError:
                problem = f"non-JSON body {r.text[:200]!r}"
        if problem:
            failures.append(f"{method} {path} [{cred_label}] -> {problem} (body {r.text[:200]!r})")
    assert not failures, "expected 401 + WWW-Authenticate: Bearer + {\"error\"}:\n" + "\n".join(failures)


def test_unauthenticated_mutations_had_no_effect(server):
    r = server.get("/v1/models", admin=True)
    assert r.status_code == 200, r.text
    present = {(m["name"], m["version"]) for m in r.json()["models"]}
    assert ("mlp_torch", "1") in present, "an unauthenticated DELETE removed mlp_torch/1"
    assert not any(n == "auth_probe" for n, _ in present), "an unauthenticated PUT created auth_probe"
    r = server.post("/v2/models/mlp_torch/infer", data=INFER_BODY)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_health_needs_no_token(server, path):
    r = server.get(path, token=False)
    assert r.status_code == 200, r.text
    # The probes never look at credentials: a wrong one is ignored, not refused, so an
    # orchestrator's probe with a stale token still sees the truth.
    r = server.get(path, token=False, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 200, f"{path} with a wrong bearer token -> {r.status_code} {r.text}"


AUTHORIZED = [e for e in ENDPOINTS if e[0] not in ("unknown model", "push", "remove")]


@pytest.mark.parametrize("label,admin,method,path,body", AUTHORIZED, ids=[e[0] for e in AUTHORIZED])
def test_admin_token_accepted(server, label, admin, method, path, body):
    r = _send(server, admin, method, path, body, f"Bearer {server.token}")
    assert r.status_code == 200, f"{method} {path} with the admin token -> {r.status_code} {r.text[:300]}"


def test_unknown_model_with_token_is_404(server):
    check_json_error(server.get("/v2/models/does_not_exist"), 404)

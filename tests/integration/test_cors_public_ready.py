"""[server] public_model_ready and [server] cors_origins, both settings.

The defaults are checked on the shared `server` (per-model readiness needs a token, no CORS
header is ever sent, an OPTIONS preflight is an ordinary unauthenticated request). One more
server, `opened`, has both switched on and serves xgb: per-model readiness answers without
a token, a preflight from a listed origin is answered without one, and only listed origins get
Access-Control-Allow-Origin. Invalid origins stop `aegis serve` with one clear line.
"""

import pytest

from aegis_testlib import aegis, assert_one_line_error, check_json_error, infer_body, reference_case, \
    start_installation, stop_and_check

ORIGIN = "https://app.example.com"
OTHER = "https://evil.example"
READY_PATHS = ["/v2/models/xgb/ready", "/v2/models/xgb/versions/1/ready"]


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("aegis-open"), models=["xgb"],
                              config={("server", "public_model_ready"): True,
                                      ("server", "cors_origins"): [ORIGIN, "http://localhost:3000"]})
    yield inst
    stop_and_check(inst)


def preflight(inst, origin, path="/v2/models/xgb/infer", admin=False):
    return inst._request("OPTIONS", path, admin, False,
                         headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                  "Access-Control-Request-Headers": "authorization,content-type"})


def test_defaults_keep_model_readiness_behind_a_token_and_send_no_cors(server):
    for path in READY_PATHS:
        r = server.get(path, token=False)
        check_json_error(r, 401, path)
        assert server.get(path).json() == {"name": "xgb", "ready": True}
    r = preflight(server, ORIGIN)
    check_json_error(r, 401, "OPTIONS without [server] cors_origins is an ordinary request")
    r = server.get("/v2", headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], dict(r.headers)


def test_public_model_ready_answers_without_a_token(opened):
    for path in READY_PATHS:
        r = opened.get(path, token=False)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        assert r.json() == {"name": "xgb", "ready": True}
    check_json_error(opened.get("/v2/models/nope/ready", token=False), 404)
    # Only readiness is opened: metadata, inference and server metadata still need a token.
    for method, path in [("GET", "/v2/models/xgb"), ("POST", "/v2/models/xgb/infer"), ("GET", "/v2")]:
        check_json_error(opened._request(method, path, False, False, json={}), 401, path)
    event = opened.wait_audit(lambda e: e.get("action") == "model.ready_public"
                              and e.get("resource") == "model:xgb/versions/1")
    assert event["principal"] == "anonymous" and event["decision"] == "allow" and event["status"] == 200


def test_a_preflight_from_a_listed_origin_needs_no_token(opened):
    r = preflight(opened, ORIGIN)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert set(m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")) == {"GET", "POST"}
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert r.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in r.headers, "credentials are never allowed cross-origin"
    assert preflight(opened, "http://localhost:3000").headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_a_preflight_from_any_other_origin_is_403_without_cors_headers(opened):
    for origin in [OTHER, "http://app.example.com", "https://app.example.com:8443", "null",
                   "https://app.example.com.evil.example"]:
        r = preflight(opened, origin)
        check_json_error(r, 403, origin)
        assert not [h for h in r.headers if h.lower().startswith("access-control-")], (origin, dict(r.headers))
    event = opened.wait_audit(lambda e: e.get("action") == "cors.preflight" and e.get("decision") == "deny")
    assert event["reason"].startswith("CORS origin not allowed: ")
    assert event["status"] == 403


def test_actual_responses_name_only_listed_origins(opened):
    array, _ = reference_case("xgb")
    r = opened.infer("xgb", infer_body(array), headers={"Origin": ORIGIN})
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert r.headers["Vary"] == "Origin"
    assert "X-Request-Id" in r.headers["Access-Control-Expose-Headers"]
    # An error a browser script must be able to read names the origin too.
    r = opened.get("/v2", token=False, headers={"Origin": ORIGIN})
    check_json_error(r, 401)
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    r = opened.get("/v2", headers={"Origin": OTHER})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    assert r.headers["Vary"] == "Origin"


def test_the_control_plane_never_answers_cors(opened):
    r = preflight(opened, ORIGIN, path="/v1/models", admin=True)
    check_json_error(r, 401, "a preflight to the control plane is an ordinary request")
    r = opened.get("/v1/models", admin=True, headers={"Origin": ORIGIN})
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], dict(r.headers)


def test_an_invalid_origin_stops_the_server_with_one_line(tmp_path):
    # Every rule is unit tested (src/api/cors_policy_test.cc); this is the start-up path.
    (tmp_path / "aegis.toml").write_text('[server]\ncors_origins = ["*"]\n')
    proc = aegis("serve", "--data-dir", tmp_path, timeout=30)
    assert_one_line_error(proc, "aegis: ")
    assert "server.cors_origins" in proc.stderr and "CORS origin '*' is not allowed" in proc.stderr, proc.stderr

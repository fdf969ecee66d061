"""docs/openapi.yaml against the server it describes.

Offline: the document is OpenAPI 3.1, every $ref resolves, every schema is a valid JSON
Schema (draft 2020-12), and the route tables the server registers (src/api/data_plane.cc,
src/api/control_plane.cc, src/api/metrics_plane.cc) and the documented operations are the
same set, so a route added or removed on one side only fails here. Against the shared
server: every documented path is served, and real responses (server and model metadata,
readiness, an inference, errors, tokens, models, trust, audit, users, whoami, the dashboard)
validate against the documented schemas.
"""

import re

import pytest
import yaml
from jsonschema import Draft202012Validator, RefResolver

from aegis_testlib import REPO, infer_body, reference_case

SPEC_PATH = REPO / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# A route row: Granted/Anonymous/Authenticated("METHOD", "/pattern", ...), or the data plane's
# ModelReadyRoute(public_ready, "/pattern", ...) (GET either way).
ROUTE_ROW = re.compile(r'\b(?:Granted|Anonymous|Authenticated)\(\s*(?:"([A-Z]+)"|internal::kAnyMethod)\s*,\s*"([^"]+)"')
READY_ROW = re.compile(r'\bModelReadyRoute\(\s*\w+\s*,\s*"([^"]+)"')
PLACEHOLDERS = {"model": "mlp_onnx", "version": "1", "name": "openapi-probe", "id": "0000000000000000"}


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def resolve(spec, ref: str):
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"$ref {ref} does not resolve (at {part!r})"
        node = node[part]
    return node


def walk(node, where="#"):
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{where}/{i}")


def registered_routes():
    routes = set()
    for source in ("data_plane.cc", "control_plane.cc", "metrics_plane.cc"):
        text = (REPO / "src" / "api" / source).read_text()
        for method, pattern in ROUTE_ROW.findall(text):
            if pattern.endswith("/**"):
                continue  # the /dashboard mount: its 404s, documented in the page's summary
            routes.add((method, pattern))
        for pattern in READY_ROW.findall(text):
            routes.add(("GET", pattern))
    return routes


# --------------------------------------------------------------------------- offline


def test_the_document_is_openapi_3_1_and_every_ref_resolves(spec):
    assert re.fullmatch(r"3\.1\.\d+", str(spec["openapi"])), spec["openapi"]
    for key in ("info", "paths", "components"):
        assert key in spec, key
    refs = 0
    for where, node in walk(spec):
        if "$ref" in node:
            resolve(spec, node["$ref"])
            refs += 1
    assert refs > 100, f"only {refs} references: did the document lose its components?"
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "mutualTLS"}
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]


def test_every_operation_declares_its_path_params_and_responses(spec):
    ids = set()
    for method, path, op in operations(spec):
        item = spec["paths"][path]
        declared = {resolve(spec, p["$ref"])["name"] if "$ref" in p else p["name"]
                    for p in item.get("parameters", []) + op.get("parameters", [])
                    if ("$ref" in p and resolve(spec, p["$ref"])["in"] == "path") or p.get("in") == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), f"{method} {path}: path parameters {declared}"
        assert op.get("responses"), f"{method} {path} has no responses"
        if "operationId" in op:
            assert op["operationId"] not in ids, op["operationId"]
            ids.add(op["operationId"])
        # Every operation that needs a credential documents the 401 with the JSON error body.
        if op.get("security", spec["security"]) not in ([], [{}]) and {} not in op.get("security", spec["security"]):
            assert "401" in op["responses"], f"{method} {path} needs a credential but documents no 401"


def test_the_registered_routes_and_the_documented_operations_are_the_same(spec):
    registered = registered_routes()
    assert len(registered) >= 40, f"the route-table parser found only {len(registered)} routes: {sorted(registered)}"
    documented = {(m, p) for m, p, _ in operations(spec)}
    assert registered - documented == set(), f"routes the server registers but docs/openapi.yaml lacks: {sorted(registered - documented)}"
    assert documented - registered == set(), f"documented operations the server does not register: {sorted(documented - registered)}"


# --------------------------------------------------------------------------- against the server


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: PLACEHOLDERS[m.group(1)], path)


def test_every_documented_path_is_served(spec, server):
    missing = []
    for method, path, _ in operations(spec):
        admin = not path.startswith("/v2")
        r = server._request(method, concrete(path), admin, False, data=b"" if method in ("POST", "PUT") else None)
        if r.status_code == 404 and "no such endpoint" in r.text:
            missing.append(f"{method} {path} -> {r.status_code} {r.text[:100]}")
    assert not missing, missing


def validator(spec, method: str, path: str, status: int, content_type: str = "application/json"):
    op = spec["paths"][path][method.lower()]
    response = op["responses"].get(str(status))
    assert response is not None, f"{method} {path}: status {status} is not documented"
    if "$ref" in response:
        response = resolve(spec, response["$ref"])
    schema = response["content"][content_type]["schema"]
    return Draft202012Validator(schema, resolver=RefResolver.from_schema(spec))


def check(spec, method: str, path: str, r):
    assert r.headers["Content-Type"].startswith("application/json"), (path, r.headers)
    errors = sorted(validator(spec, method, path, r.status_code).iter_errors(r.json()), key=str)
    assert not errors, f"{method} {path} {r.status_code}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def test_real_responses_match_the_documented_schemas(spec, server):
    array, _ = reference_case("xgb")
    cases = [
        ("GET", "/v2", "/v2", {}),
        ("GET", "/v2/health/live", "/v2/health/live", {"token": False}),
        ("GET", "/v2/health/ready", "/v2/health/ready", {"token": False}),
        ("GET", "/v2/models/{model}", "/v2/models/mlp_onnx", {}),
        ("GET", "/v2/models/{model}/versions/{version}", "/v2/models/xgb/versions/1", {}),
        ("GET", "/v2/models/{model}/ready", "/v2/models/mlp_torch/ready", {}),
        ("GET", "/v2/models/{model}/versions/{version}/ready", "/v2/models/xgb/versions/1/ready", {}),
        ("POST", "/v2/models/{model}/infer", "/v2/models/xgb/infer", {"json": infer_body(array, id="openapi-1")}),
        # Errors: the JSON error body of each kind.
        ("GET", "/v2/models/{model}", "/v2/models/mlp_onnx", {"token": False}),
        ("GET", "/v2/models/{model}", "/v2/models/no_such_model", {}),
        ("POST", "/v2/models/{model}/infer", "/v2/models/xgb/infer", {"data": b"{not json"}),
        ("GET", "/v1/tokens", "/v1/tokens", {"admin": True}),
        ("GET", "/v1/models", "/v1/models", {"admin": True}),
        ("GET", "/v1/trust", "/v1/trust", {"admin": True}),
        ("GET", "/v1/audit", "/v1/audit?limit=20", {"admin": True}),
        ("GET", "/v1/audit", "/v1/audit?limit=0", {"admin": True}),
        ("GET", "/v1/users", "/v1/users", {"admin": True}),
        ("GET", "/v1/whoami", "/v1/whoami", {"admin": True}),
        ("GET", "/v1/dashboard", "/v1/dashboard", {"admin": True}),
        ("GET", "/v1/incidents", "/v1/incidents", {"admin": True}),
        ("DELETE", "/v1/tokens/{id}", "/v1/tokens/0000000000000000", {"admin": True}),
        ("POST", "/v1/login", "/v1/login", {"admin": True, "token": False,
                                            "json": {"user": "nobody", "password": "x" * 12, "totp": "000000"}}),
    ]
    seen = set()
    for method, documented, actual, kw in cases:
        admin = kw.pop("admin", False)
        token = kw.pop("token", True)
        r = server._request(method, actual, admin, token, **kw)
        check(spec, method, documented, r)
        seen.add(r.status_code)
    assert {200, 400, 401, 404} <= seen, seen
    # A created token (its secret shown once) and the list that then holds it.
    r = server._request("POST", "/v1/tokens", True, True, json={"name": "openapi-check", "role": "consumer",
                                                                  "models": "xgb", "ttl_seconds": 3600})
    assert r.status_code == 201, r.text
    check(spec, "POST", "/v1/tokens", r)
    listed = server._request("GET", "/v1/tokens", True, True)
    check(spec, "GET", "/v1/tokens", listed)
    assert any(t["id"] == r.json()["id"] for t in listed.json()["tokens"])
    revoked = server._request("DELETE", f"/v1/tokens/{r.json()['id']}", True, True)
    check(spec, "DELETE", "/v1/tokens/{id}", revoked)

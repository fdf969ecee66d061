"""Model extraction detection (issue 15, section 3), against the real server: a PRADA-style
detector per (principal, model) sees a Jacobian-augmentation extraction attack (Papernot et al.
2017: ten seed points, then rounds of x + lambda * sign(gradient) of a local substitute trained on
the answers) within 500 rows, opens an `extraction` incident whose default playbook suspends the
credential within a second (403 "credential suspended"), while 5,000 rows drawn i.i.d. from the
baseline distribution open nothing and another token is unaffected. Rows are counted, not
requests: both the attacker and the honest client batch several rows a request.

The model is a 12-feature classifier (TorchScript MLP 12 -> 16 -> 2 with softmax, fixed seed)
made by the fixture; its baseline inputs are standard normal per feature.
"""

import time
import uuid

import numpy as np
import pytest

from aegis_testlib import Installation, stop_and_check
from identity_lib import call, create_token, json_error, labelled_metric

MODEL = "fraud12"
UNWATCHED = "open12"  # the same model with [models."open12"] extraction = "off"
FEATURES = 12


def make_model(path):
    import torch
    torch.manual_seed(12)
    net = torch.nn.Sequential(torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2),
                              torch.nn.Softmax(dim=-1))
    torch.jit.script(net.eval()).save(str(path))
    return path


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("extraction")
    inst = Installation(root)
    inst.init()
    with open(inst.config_path, "a") as f:
        f.write(f'\n[models."{UNWATCHED}"]\nextraction = "off"\n')
    model = make_model(root / "fraud12.pt")
    inst.start()
    try:
        inst.push_ok(MODEL, "1", model, "torchscript")
        inst.push_ok(UNWATCHED, "1", model, "torchscript")
        inst.wait_ready(60)
    except BaseException:
        inst.kill()
        raise
    yield inst
    stop_and_check(inst)


class Client:
    """One credential's keep-alive session on the data plane."""

    def __init__(self, inst, name, model=MODEL):
        self.name = name
        self.token = create_token(inst, name, "consumer")["token"]
        self.session = inst.session(token=False)
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        self.url = inst.url(f"/v2/models/{model}/infer")

    def ask(self, rows: np.ndarray):
        """(status, classes or None, error text) for one request of `rows` (n x 12)."""
        rows = np.asarray(rows, dtype=np.float32)
        body = {"inputs": [{"name": "input", "datatype": "FP32", "shape": list(rows.shape),
                            "data": rows.ravel().tolist()}]}
        r = self.session.post(self.url, json=body, timeout=30)
        if r.status_code != 200:
            return r.status_code, None, r.text
        out = r.json()["outputs"][0]
        scores = np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])
        return 200, scores.argmax(axis=1), ""


def extraction_incidents(inst, principal):
    r = call(inst, "GET", "/v1/incidents?limit=1000", bearer=inst.token)
    assert r.status_code == 200, r.text
    return [i for i in r.json()["incidents"] if i["kind"] == "extraction" and i["principal"] == principal]


def metric(inst, name):
    text = call(inst, "GET", "/metrics", bearer=inst.token, admin=True).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def input_name(inst):
    r = inst.get(f"/v2/models/{MODEL}")
    assert r.status_code == 200, r.text
    return r.json()["inputs"][0]["name"]


def test_iid_baseline_traffic_opens_no_incident(srv):
    assert input_name(srv) == "input"
    honest = Client(srv, f"honest{uuid.uuid4().hex[:6]}")
    rng = np.random.default_rng(2024)
    sent = 0
    for _ in range(500):  # 5,000 rows, 10 a request
        status, classes, text = honest.ask(rng.normal(0, 1, (10, FEATURES)))
        assert status == 200, f"after {sent} rows: {status} {text[:200]}"
        assert classes.shape == (10,)
        sent += 10
    time.sleep(0.5)  # anything posted has reached the incidents thread
    assert extraction_incidents(srv, f"token:{honest.name}") == []
    assert honest.ask(rng.normal(0, 1, (1, FEATURES)))[0] == 200
    assert labelled_metric(srv, "aegis_extraction_alarms_total", {"signal": "prada"}) == 0
    assert metric(srv, "aegis_extraction_tracked") >= 1
    assert metric(srv, "aegis_extraction_tracked_bytes") > 0


def test_a_client_repeating_fixed_inputs_opens_no_incident(srv):
    """A probe or retry loop sends the same rows again and again: repeats are not distances."""
    prober = Client(srv, f"prober{uuid.uuid4().hex[:6]}")
    fixed = np.random.default_rng(5).normal(0, 1, (5, FEATURES))
    for i in range(200):  # 1,000 rows, 5 distinct
        status, _, text = prober.ask(fixed)
        assert status == 200, f"request {i}: {status} {text[:200]}"
    time.sleep(0.5)
    assert extraction_incidents(srv, f"token:{prober.name}") == []


def substitute_direction(X, y, rng):
    """sign of d logit_y(x) / dx under a substitute MLP (12 -> 16 -> 2) fitted to (X, y): the
    Jacobian step of Papernot et al. (their substitute is a DNN; a linear one would give every
    point of a class the same direction, and the attack would re-send the same points)."""
    w1, b1 = rng.normal(0, 0.3, (FEATURES, 16)), np.zeros(16)
    w2, b2 = rng.normal(0, 0.3, (16, 2)), np.zeros(2)
    onehot = np.eye(2)[y]
    for _ in range(300):
        h = X @ w1 + b1
        a = np.maximum(h, 0)
        z = a @ w2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        g = (e / e.sum(axis=1, keepdims=True) - onehot) / len(X)
        ga = g @ w2.T * (h > 0)
        w2 -= 0.5 * a.T @ g
        b2 -= 0.5 * g.sum(axis=0)
        w1 -= 0.5 * X.T @ ga
        b1 -= 0.5 * ga.sum(axis=0)
    active = (X @ w1 + b1 > 0).astype(float)
    return np.sign(np.einsum("ij,nj->ni", w1, active * w2[:, y].T))


def test_jacobian_augmentation_attack_is_detected_and_contained(srv):
    thief = Client(srv, f"thief{uuid.uuid4().hex[:6]}")
    bystander = Client(srv, f"bystander{uuid.uuid4().hex[:6]}")
    rng = np.random.default_rng(7)
    known_x = rng.normal(0, 1, (10, FEATURES))  # the seeds
    batch, lam = known_x, 0.1
    known_y = np.empty(0, dtype=int)
    sent, first_403, refused = 0, None, None
    while first_403 is None and sent < 1000:
        answers = []
        for i in range(0, len(batch), 20):  # up to 20 rows a request
            status, classes, text = thief.ask(batch[i:i + 20])
            if status != 200:
                first_403, refused = time.time(), (status, text)
                break
            answers.extend(classes)
            sent += len(classes)
        if first_403 is not None:
            break
        known_y = np.concatenate([known_y, np.asarray(answers, dtype=int)])
        if len(known_y) < len(known_x):  # should not happen: every row was answered
            break
        # The next round: every known point stepped along the substitute's gradient sign.
        batch = known_x + lam * substitute_direction(known_x, known_y, rng)
        known_x = np.concatenate([known_x, batch])
    # A bystander is served throughout (and the attack left it alone).
    assert bystander.ask(rng.normal(0, 1, (3, FEATURES)))[0] == 200
    if first_403 is None:  # the alarm came with the last rows: keep asking as the attacker would
        deadline = time.time() + 2
        while time.time() < deadline:
            status, _, text = thief.ask(rng.normal(0, 1, (1, FEATURES)))
            if status != 200:
                first_403, refused = time.time(), (status, text)
                break
            time.sleep(0.02)
    found = extraction_incidents(srv, f"token:{thief.name}")
    assert len(found) == 1, (sent, found)
    inc = call(srv, "GET", f"/v1/incidents/{found[0]['id']}", bearer=srv.token).json()
    ev = inc["evidence"]
    assert inc["severity"] == "high" and inc["model"] == MODEL and inc["version"] == "1", inc
    assert ev["signal"] == "prada" and float(ev["w"]) < float(ev["threshold"]) == 0.9, ev
    assert 50 <= int(ev["window"]) <= 200, ev
    assert int(ev["queries"]) <= 500, f"detected after {ev['queries']} rows (sent {sent})"
    detected = int(ev["detected_at"]) / 1000
    assert int(ev["first_query_at"]) <= int(ev["detected_at"]), ev
    assert [a["action"] for a in inc["actions"]] == ["suspend"], inc
    assert inc["actions"][0]["outcome"] == f"suspended token:{thief.name}", inc
    # Contained: the credential is refused within a second of the detection.
    assert first_403 is not None, f"never refused after {sent} rows; incident {inc}"
    assert refused[0] == 403 and "credential suspended" in refused[1], refused
    print(f"\nextraction: sent {sent} rows, evidence {ev}, refused {first_403 - detected:.3f} s after detection")
    assert first_403 - detected < 1.0, f"refused {first_403 - detected:.3f} s after detection"
    status, _, text = thief.ask(rng.normal(0, 1, (1, FEATURES)))
    assert status == 403 and "credential suspended" in text, (status, text)
    # Another token is unaffected by this one's suspension.
    assert bystander.ask(rng.normal(0, 1, (5, FEATURES)))[0] == 200
    assert labelled_metric(srv, "aegis_extraction_alarms_total", {"signal": "prada"}) >= 1


def augmented_rows(seed, n=400):
    """Ten seeds, then each known point stepped by 0.1 along a sign vector that depends on the
    point (as a nonlinear substitute's gradient does), doubling."""
    rng = np.random.default_rng(seed)
    x = [rng.normal(0, 1, FEATURES) for _ in range(10)]
    while len(x) < n:
        x.extend([p + 0.1 * np.sign(np.sin(3 * p + np.arange(FEATURES))) for p in x][: n - len(x)])
    return np.array(x), rng


def test_rows_in_one_request_are_seen_row_by_row(srv):
    """One request of 400 rows of a Jacobian-style walk is caught like 400 requests."""
    batcher = Client(srv, f"batcher{uuid.uuid4().hex[:6]}")
    x, rng = augmented_rows(9)
    status, _, text = batcher.ask(x)
    assert status == 200, text  # the request that raised the alarm is still answered
    deadline = time.time() + 2
    while time.time() < deadline:
        status, _, text = batcher.ask(rng.normal(0, 1, (1, FEATURES)))
        if status == 403:
            break
        time.sleep(0.05)
    assert status == 403 and "credential suspended" in text, (status, text)
    [inc] = extraction_incidents(srv, f"token:{batcher.name}")
    assert int(call(srv, "GET", f"/v1/incidents/{inc['id']}", bearer=srv.token).json()["evidence"]["queries"]) <= 400


def test_a_model_with_extraction_off_is_not_watched(srv):
    client = Client(srv, f"offmodel{uuid.uuid4().hex[:6]}", model=UNWATCHED)
    x, rng = augmented_rows(10)
    for i in range(0, len(x), 50):
        status, _, text = client.ask(x[i:i + 50])
        assert status == 200, text
    time.sleep(0.5)
    assert client.ask(rng.normal(0, 1, (1, FEATURES)))[0] == 200
    assert extraction_incidents(srv, f"token:{client.name}") == []

"""ONNX conformance of the ONNX Runtime worker: Debian's libonnx-testdata node models.

Every node model runs in a real confined `aegis engine-worker --engine onnxruntime` and its
outputs are compared with the expected ones (onnx_conformance.py). The committed
onnx_conformance_known_failures.txt lists the models that do not pass and why; a model that
fails and is not on it fails this test, so the pass count can never drop below
(all models - known failures), the floor asserted at the end. The models are split into shards
so that each test stays within the suite's per-test time limit.
"""

import concurrent.futures

import pytest

import onnx_conformance as conformance

SHARDS = 32
FLOOR = 850  # the goal; the known-failures list keeps the real count above it


def known_failures():
    known = {}
    for line in conformance.KNOWN_FAILURES.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            known[name] = reason
    return known


def all_tests():
    return sorted(p for p in conformance.NODE_TESTS.iterdir() if (p / "model.onnx").is_file())


def test_the_test_data_is_installed():
    assert conformance.NODE_TESTS.is_dir(), "install libonnx-testdata (scripts/setup.sh)"
    tests = all_tests()
    assert len(tests) == 932, len(tests)
    known = known_failures()
    assert set(known) <= {t.name for t in tests}, set(known) - {t.name for t in tests}
    assert len(tests) - len(known) >= FLOOR, f"{len(tests) - len(known)} passing models expected, floor {FLOOR}"


@pytest.mark.parametrize("shard", range(SHARDS))
def test_node_models_pass(shard):
    known = known_failures()
    tests = all_tests()[shard::SHARDS]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reasons = dict(zip((t.name for t in tests), pool.map(conformance.run_one, tests)))
    new = {name: reason for name, reason in reasons.items() if reason is not None and name not in known}
    assert not new, f"node models that used to pass fail now: {new}"

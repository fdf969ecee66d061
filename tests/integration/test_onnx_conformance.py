"""ONNX conformance of the ONNX Runtime worker: Debian's libonnx-testdata node models.

Every node model runs in a real confined `aegis engine-worker --engine onnxruntime` and its
outputs are compared with the expected ones (onnx_conformance.py). The committed
onnx_conformance_known_failures.txt lists the models that do not pass and why; a model that
fails and is not on it fails this test, so the pass count can never drop below
(all models - known failures), the floor asserted at the end.

Every model off that list is run, as onnx_conformance.py runs them: those that can share a
graph in groups, one worker per group, and any model that does not pass in its group again in
a worker of its own, whose verdict counts. The known failures themselves are not run (their
outcome is asserted by nothing), which keeps the groups whole. The groups are split into
shards so that each test stays within the suite's per-test time limit.
"""

import functools

import pytest

import onnx_conformance as conformance

SHARDS = 8
FLOOR = 850  # the goal; the known-failures list keeps the real count above it


def known_failures():
    known = {}
    for line in conformance.KNOWN_FAILURES.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            known[name] = reason
    return known


@functools.lru_cache(maxsize=1)
def batches():
    """The models expected to pass, as onnx_conformance.py batches them (groups and singles)."""
    known = known_failures()
    return conformance.batches([t for t in conformance.all_tests() if t.name not in known])


def test_the_test_data_is_installed():
    assert conformance.NODE_TESTS.is_dir(), "install libonnx-testdata (scripts/setup.sh)"
    tests = conformance.all_tests()
    assert len(tests) == 932, len(tests)
    known = known_failures()
    assert set(known) <= {t.name for t in tests}, set(known) - {t.name for t in tests}
    assert len(tests) - len(known) >= FLOOR, f"{len(tests) - len(known)} passing models expected, floor {FLOOR}"
    # Every model off the list is in exactly one batch: none escapes the shards.
    batched = [t.name for batch in batches() for t in batch]
    assert sorted(batched) == sorted(t.name for t in tests if t.name not in known)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_node_models_pass(shard):
    tests = [t for batch in batches()[shard::SHARDS] for t in batch]
    reasons = conformance.run_batches(batches()[shard::SHARDS], jobs=2)
    assert sorted(reasons) == sorted(t.name for t in tests)
    new = {name: reason for name, reason in reasons.items() if reason is not None}
    assert not new, f"node models that used to pass fail now: {new}"

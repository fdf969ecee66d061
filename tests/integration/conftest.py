"""Fixtures for Aegis's black-box integration tests.

`server` (session scope) is one installation: `aegis init` into a temp dir, `aegis serve`
on two free loopback ports, the example models pushed (mlp_onnx, mlp_torch, xgb, xgb_ubj,
echo; version "1"), and SIGTERM at the end with exit code 0 asserted.

There is no skipping: a missing binary or missing example models fail every test loudly, and a
test that skips itself anyway (pytest.skip, a skip mark, an empty parameter set) is reported as
failed.
"""

import os
import signal

import pytest

from aegis_testlib import AEGIS_BIN, EXAMPLE_MODELS, EXAMPLES, start_installation, stop_and_check

# Per-test wall-clock limit (python3-pytest-timeout is not installed here): a hung
# server must fail a test, not hang the suite.
TEST_TIMEOUT_SECONDS = int(os.environ.get("AEGIS_TEST_TIMEOUT", "120"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    def on_alarm(signum, frame):
        pytest.fail(f"test exceeded {TEST_TIMEOUT_SECONDS}s (AEGIS_TEST_TIMEOUT)", pytrace=True)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip is a failure here: everything these tests need is installed by scripts/setup.sh or
    built by the Makefile, so a test that cannot run means a broken setup, never a pass."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and nothing in this suite may be skipped: {reason}"


def require_prerequisites():
    if not (os.path.isfile(AEGIS_BIN) and os.access(AEGIS_BIN, os.X_OK)):
        pytest.fail(f"aegis binary not found or not executable: {AEGIS_BIN} "
                    "(build it with `make build`, or point AEGIS_BIN at it)", pytrace=False)
    missing = [f for _, f, _ in EXAMPLE_MODELS if not (EXAMPLES / f).is_file()]
    if not (EXAMPLES / "reference.json").is_file():
        missing.append("reference.json")
    if missing:
        pytest.fail(f"example models missing from {EXAMPLES}: {missing} "
                    "(generate them with /usr/bin/python3 examples/make_models.py)", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _prerequisites():
    require_prerequisites()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    inst = start_installation(tmp_path_factory.mktemp("aegis-shared"))
    # A token that expires 60 s from now (the minimum TTL), made as early as the shared server:
    # test_expired_token_is_401 checks it once expired, and runs last, so nobody waits for it.
    r = inst.post("/v1/tokens", admin=True, json={"name": "expiring", "role": "consumer", "ttl_seconds": 60})
    assert r.status_code == 201, r.text
    inst.expiring_token = r.json()
    yield inst
    stop_and_check(inst)


def pytest_collection_modifyitems(items):
    """The test that needs a 60 s token expired runs after everything else."""
    last = [item for item in items if item.name == "test_expired_token_is_401"]
    items[:] = [item for item in items if item not in last] + last

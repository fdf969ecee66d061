"""examples/client.py, the Python client example of the docs, against the shared server: it
must keep working (metadata and an inference that match the reference outputs) and fail with
one clear line for a bad token, an unknown model, a CA that is not the server's and a
missing configuration."""

import json
import subprocess

import numpy as np

from aegis_testlib import EXAMPLES, REPO, clean_env, reference_case

CLIENT = EXAMPLES / "client.py"


def run(server, *args, **env_overrides):
    env = clean_env({"AEGIS_URL": f"https://127.0.0.1:{server.data_port}", "AEGIS_TOKEN": server.token,
                     "AEGIS_CACERT": server.ca})
    for k, v in env_overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run(["/usr/bin/python3", str(CLIENT), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def test_metadata_and_an_inference(server):
    array, expected = reference_case("mlp_onnx")
    p = run(server, "mlp_onnx", *array[0].tolist())
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("model mlp_onnx versions ['1'] on onnxruntime_onnx, signed by "), lines
    assert lines[1] == "input input FP32 [-1, 4]", lines
    assert lines[2].startswith("version 1 output output FP32 [1, 3]: "), lines
    got = np.array(json.loads(lines[2].split(": ", 1)[1]), dtype=np.float32)
    np.testing.assert_allclose(got, expected[0], rtol=1e-5, atol=1e-5)
    event = server.wait_audit(lambda e: e.get("action") == "infer" and e.get("request_id") is not None
                              and e.get("principal") == "token:admin" and e.get("resource") == "model:mlp_onnx/versions/1")
    assert event["decision"] == "allow"


def test_failures_are_one_clear_line(server, tmp_path):
    cases = [
        (["mlp_onnx", 1, 2, 3, 4], {"AEGIS_TOKEN": "aegis_0000000000000000_" + "A" * 43}, ["401", "check AEGIS_TOKEN"]),
        (["no_such_model", 1, 2, 3, 4], {}, ["404", "request id"]),
        (["mlp_onnx", 1, 2], {}, ["400"]),
        (["mlp_onnx", 1, 2, 3, 4], {"AEGIS_TOKEN": None}, ["set AEGIS_TOKEN and AEGIS_CACERT"]),
        (["mlp_onnx", 1, 2, 3, 4], {"AEGIS_CACERT": str(tmp_path / "missing.crt")}, ["is not a readable file"]),
        (["mlp_onnx", 1, 2, 3, 4], {"AEGIS_CACERT": "/etc/ssl/certs/ca-certificates.crt"},
         ["TLS verification failed", "AEGIS_CACERT"]),
    ]
    for args, env, wanted in cases:
        p = run(server, *args, **env)
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert p.returncode == 1 and len(lines) == 1, (args, env, p.returncode, p.stderr)
        assert lines[0].startswith("client.py: ") and all(w in lines[0] for w in wanted), (args, env, lines)

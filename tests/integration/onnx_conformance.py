#!/usr/bin/python3
"""ONNX conformance: Debian's libonnx-testdata node models through the ONNX engine worker.

Each model runs in a real `aegis engine-worker --engine onnxruntime` process — the launcher,
its confinement, node, worker.js and the worker protocol's stream transport, exactly as
`aegis serve` starts them — driven by this file in the server's place: it hands over the
model as a sealed memfd, sends the test's inputs as one request and compares the outputs with
the expected ones (numpy.testing tolerances of ONNX's own backend tests: rtol 1e-3, atol 1e-7).

  /usr/bin/python3 tests/integration/onnx_conformance.py [--jobs 2] [--write-known-failures]

Prints the pass count; with --write-known-failures, rewrites onnx_conformance_known_failures.txt
(one "test_name<TAB>reason" per line).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import socket
import struct
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
AEGIS_BIN = os.environ.get("AEGIS_BIN", str(REPO / "build" / "release" / "src" / "cli" / "aegis"))
PACKAGE = os.environ.get("AEGIS_ONNXRUNTIME_DIR", str(REPO / "runtime" / "onnxruntime"))
NODE_TESTS = pathlib.Path("/usr/share/libonnx-testdata/data/node")
KNOWN_FAILURES = HERE / "onnx_conformance_known_failures.txt"
CAPACITY = 64 << 20
TIMEOUT = 60

# KServe datatype codes of the protocol (docs/worker-protocol.md) and their numpy types.
CODES = {"BOOL": 1, "UINT8": 2, "UINT16": 3, "UINT32": 4, "UINT64": 5, "INT8": 6, "INT16": 7, "INT32": 8,
         "INT64": 9, "FP16": 10, "FP32": 11, "FP64": 12, "BYTES": 13}
NUMPY = {1: np.bool_, 2: np.uint8, 3: np.uint16, 4: np.uint32, 5: np.uint64, 6: np.int8, 7: np.int16, 8: np.int32,
         9: np.int64, 10: np.float16, 11: np.float32, 12: np.float64}
CODE_OF_NUMPY = {np.dtype(v): k for k, v in NUMPY.items()}


class Refused(Exception):
    """The worker or the protocol cannot take this test (a reason for the known-failures list)."""


def encode_list(tensors):
    """A protocol tensor list for [(name, code, shape, bytes)]."""
    entries, size = [], 8
    for name, code, shape, data in tensors:
        size += 24 + 8 * len(shape) + (len(name) + 7) // 8 * 8
    offsets = []
    for _, _, _, data in tensors:
        size = (size + 63) // 64 * 64
        offsets.append(size)
        size += len(data)
    out = bytearray(size)
    struct.pack_into("<II", out, 0, len(tensors), 0)
    at = 8
    for (name, code, shape, data), offset in zip(tensors, offsets):
        struct.pack_into("<HBBIQQ", out, at, len(name), code, len(shape), 0, offset, len(data))
        struct.pack_into(f"<{len(shape)}q", out, at + 24, *shape)
        out[at + 24 + 8 * len(shape):at + 24 + 8 * len(shape) + len(name)] = name
        at += 24 + 8 * len(shape) + (len(name) + 7) // 8 * 8
        out[offset:offset + len(data)] = data
    return bytes(out)


def decode_list(buf):
    count, _ = struct.unpack_from("<II", buf, 0)
    at, out = 8, {}
    for _ in range(count):
        name_len, code, rank, _, offset, size = struct.unpack_from("<HBBIQQ", buf, at)
        shape = list(struct.unpack_from(f"<{rank}q", buf, at + 24))
        name = bytes(buf[at + 24 + 8 * rank:at + 24 + 8 * rank + name_len]).decode()
        at += 24 + 8 * rank + (name_len + 7) // 8 * 8
        data = bytes(buf[offset:offset + size])
        if code == CODES["BYTES"]:
            items, pos = [], 0
            while pos < len(data):
                (n,) = struct.unpack_from("<I", data, pos)
                items.append(data[pos + 4:pos + 4 + n])
                pos += 4 + n
            out[name] = np.array(items, dtype=object).reshape(shape)
        else:
            out[name] = np.frombuffer(data, dtype=NUMPY[code]).reshape(shape)
    return out


def tensor_bytes(array):
    if array.dtype == object or array.dtype.kind in "SU":
        parts = []
        for item in array.reshape(-1):
            b = item if isinstance(item, bytes) else str(item).encode()
            parts.append(struct.pack("<I", len(b)) + b)
        return CODES["BYTES"], b"".join(parts)
    code = CODE_OF_NUMPY.get(array.dtype)
    if code is None:
        raise Refused(f"input type {array.dtype} has no KServe datatype")
    return code, np.ascontiguousarray(array).tobytes()


class Worker:
    """One `aegis engine-worker --engine onnxruntime` process serving one model."""

    def __init__(self, model_bytes: bytes):
        self.control, worker_end = socket.socketpair()
        model = os.memfd_create("model", os.MFD_ALLOW_SEALING)
        os.write(model, model_bytes)
        arena = os.memfd_create("arena")
        os.ftruncate(arena, 4096)
        request_event, response_event = os.eventfd(0), os.eventfd(0)
        stderr_r, stderr_w = os.pipe()
        null = os.open("/dev/null", os.O_RDWR)
        sources = [null, null, stderr_w, worker_end.fileno(), model, arena, request_event, response_event]
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(sources)]
        args = [AEGIS_BIN, "engine-worker", "--format", "onnx", "--memory-limit", str(4 << 30), "--parent",
                str(os.getpid()), "--engine", "onnxruntime", "--node", "/usr/bin/node", "--package", PACKAGE,
                "--threads", "1", "--request-capacity", str(CAPACITY), "--response-capacity", str(CAPACITY)]
        self.pid = os.posix_spawn(AEGIS_BIN, args, {}, file_actions=actions)
        for fd in (model, arena, request_event, response_event, stderr_w, null):
            os.close(fd)
        worker_end.close()
        self.stderr = stderr_r
        self.control.settimeout(TIMEOUT)
        self.buffer = b""

    def frame(self):
        while len(self.buffer) < 5 or len(self.buffer) < 4 + struct.unpack_from("<I", self.buffer)[0]:
            chunk = self.control.recv(1 << 20)
            if not chunk:
                raise Refused("the worker stopped")
            self.buffer += chunk
        (length,) = struct.unpack_from("<I", self.buffer)
        kind, payload = self.buffer[4], self.buffer[5:4 + length]
        self.buffer = self.buffer[4 + length:]
        return kind, payload

    def start(self):
        """The model's signature ({"inputs", "outputs"}); Refused with the worker's reason."""
        signature = None
        while True:
            kind, payload = self.frame()
            if kind == 3:
                raise Refused(json.loads(payload)["error"][:300])
            if kind == 2:
                signature = json.loads(payload)
            if kind == 4:
                return signature

    def infer(self, tensors):
        body = struct.pack("<Q", 1) + bytes(56) + encode_list(tensors)
        self.control.sendall(struct.pack("<IB", len(body) + 1, 7) + body)
        kind, payload = self.frame()
        if kind != 8:
            raise Refused(f"unexpected frame {kind}")
        response = payload[64:]
        status, public, detail, _, offset = struct.unpack_from("<IIIIQ", response)
        if status != 0:
            text = bytes(response[24 + public:24 + public + detail]).decode(errors="replace")
            raise Refused(f"inference failed: {text.splitlines()[0][:300] if text else status}")
        return decode_list(memoryview(response)[offset:])

    def close(self):
        self.control.close()
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.stderr)


def load_pb(path):
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    if not tensor.name and not tensor.dims and tensor.data_type == 0:
        raise Refused("input or output is not a tensor (sequence or optional)")
    return numpy_helper.to_array(tensor)


def run_one(test_dir: pathlib.Path):
    """None when the outputs match; the reason otherwise."""
    data = test_dir / "test_data_set_0"
    model = onnx.load(str(test_dir / "model.onnx"), load_external_data=False)
    for v in list(model.graph.input) + list(model.graph.output):
        if not v.type.HasField("tensor_type"):
            return "input or output is not a tensor (sequence, map or optional): KServe v2 carries tensors"
    worker = Worker((test_dir / "model.onnx").read_bytes())
    try:
        signature = worker.start()
        inputs = [load_pb(p) for p in sorted(data.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        expected = [load_pb(p) for p in sorted(data.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
        names = [s["name"] for s in signature["inputs"]]
        if len(inputs) > len(names):
            return f"{len(inputs)} inputs for {len(names)} declared"
        tensors = []
        for name, array in zip(names, inputs):
            code, raw = tensor_bytes(array)
            tensors.append((name.encode(), code, list(array.shape), raw))
        got = worker.infer(tensors)
        for spec, want in zip(signature["outputs"], expected):
            have = got.get(spec["name"])
            if have is None:
                return f"output {spec['name']} missing"
            if want.dtype == object:
                want = np.array([w if isinstance(w, bytes) else str(w).encode() for w in want.reshape(-1)],
                                dtype=object).reshape(want.shape)
                if have.shape != want.shape or not all(a == b for a, b in zip(have.reshape(-1), want.reshape(-1))):
                    return f"output {spec['name']} differs"
                continue
            if have.shape != want.shape:
                return f"output {spec['name']} has shape {list(have.shape)}, expected {list(want.shape)}"
            try:
                np.testing.assert_allclose(have.astype(want.dtype), want, rtol=1e-3, atol=1e-7)
            except AssertionError:
                return f"output {spec['name']} differs beyond rtol 1e-3, atol 1e-7"
        return None
    except Refused as e:
        return str(e)
    except Exception as e:  # a malformed test file: counted, named
        return f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        worker.close()


def run_all(jobs: int = 2):
    """{test name: None (pass) or reason}, and the seconds it took."""
    tests = sorted(p for p in NODE_TESTS.iterdir() if (p / "model.onnx").is_file())
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = dict(zip((t.name for t in tests), pool.map(run_one, tests)))
    return results, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write-known-failures", action="store_true")
    args = parser.parse_args()
    results, seconds = run_all(args.jobs)
    failures = {k: v for k, v in results.items() if v is not None}
    print(f"{len(results) - len(failures)} of {len(results)} node models pass ({seconds:.0f} s)")
    if args.write_known_failures:
        KNOWN_FAILURES.write_text(
            "# libonnx-testdata node models the ONNX Runtime worker does not pass, and why\n"
            "# (regenerate: /usr/bin/python3 tests/integration/onnx_conformance.py --write-known-failures)\n"
            + "".join(f"{k}\t{v.replace(chr(9), ' ').replace(chr(10), ' ')}\n" for k, v in sorted(failures.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

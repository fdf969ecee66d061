#!/usr/bin/python3
"""ONNX conformance: Debian's libonnx-testdata node models through the ONNX engine worker.

Each model runs in a real `aegis engine-worker --engine onnxruntime` process — the launcher,
its confinement, node, worker.js and the worker protocol's stream transport, exactly as
`aegis serve` starts them — driven by this file in the server's place: it hands over the
model as a sealed memfd, sends the test's inputs as one request and compares the outputs with
the expected ones (numpy.testing tolerances of ONNX's own backend tests: rtol 1e-3, atol 1e-7).

  /usr/bin/python3 tests/integration/onnx_conformance.py [--jobs 2] [--write-known-failures]
                                                       [--one-worker-per-model]

Models that can share a graph run in groups, one worker per group (see run_group); a model
that does not pass in its group gets its verdict from a worker of its own.

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
from onnx import compose, numpy_helper

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


def load_test(test_dir: pathlib.Path):
    """The test's model, inputs and expected outputs; Refused when KServe v2 cannot carry them."""
    data = test_dir / "test_data_set_0"
    model = onnx.load(str(test_dir / "model.onnx"), load_external_data=False)
    for v in list(model.graph.input) + list(model.graph.output):
        if not v.type.HasField("tensor_type"):
            raise Refused("input or output is not a tensor (sequence, map or optional): KServe v2 carries tensors")
    inputs = [load_pb(p) for p in sorted(data.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
    expected = [load_pb(p) for p in sorted(data.glob("output_*.pb"), key=lambda p: int(p.stem.split("_")[1]))]
    return model, inputs, expected


def request_tensors(input_specs, inputs):
    """The request's tensors: the test's inputs in the order the worker declares its inputs."""
    names = [s["name"] for s in input_specs]
    if len(inputs) > len(names):
        raise Refused(f"{len(inputs)} inputs for {len(names)} declared")
    tensors = []
    for name, array in zip(names, inputs):
        code, raw = tensor_bytes(array)
        tensors.append((name.encode(), code, list(array.shape), raw))
    return tensors


def compare(output_specs, got, expected):
    """None when every expected output is there and matches; the reason otherwise."""
    for spec, want in zip(output_specs, expected):
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


def run_one(test_dir: pathlib.Path):
    """None when the outputs match; the reason otherwise."""
    try:
        _, inputs, expected = load_test(test_dir)
    except Refused as e:
        return str(e)
    except Exception as e:  # a malformed test file: counted, named
        return f"{type(e).__name__}: {str(e)[:200]}"
    worker = Worker((test_dir / "model.onnx").read_bytes())
    try:
        signature = worker.start()
        got = worker.infer(request_tensors(signature["inputs"], inputs))
        return compare(signature["outputs"], got, expected)
    except Refused as e:
        return str(e)
    except Exception as e:  # a malformed test file: counted, named
        return f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        worker.close()


# ---------------------------------------------------------------------------
# Groups: starting a worker (the launcher, its confinement, node, ONNX Runtime) costs about
# a second of CPU, far more than most node models take to run. So models that share an IR
# version and opset imports and have no subgraphs or local functions run side by side as the
# disjoint parts of one model, every name prefixed with the model's place in the group: one
# worker, one session, one request for the group, and each model's outputs compared on their
# own. A group that does not load or run is halved until the model at fault runs alone, and a
# model whose outputs do not match in its group gets its verdict from a worker of its own
# (run_one): a failure is never a side effect of grouping, and the known-failures list is the
# same either way (--one-worker-per-model runs every model alone).

GROUP_SIZE = 24


def group_key(model):
    """Models with the same key can share a graph; None when this one runs alone."""
    for node in model.graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            return None  # a subgraph may use outer names that prefixing would not reach
    if model.functions:
        return None
    return model.ir_version, tuple(sorted((o.domain, o.version) for o in model.opset_import))


def prefix_of(index):
    return f"aegis_conformance_{index}__"


def combine(models):
    """One model whose graph is the disjoint union of `models` (same IR version and opsets)."""
    combined = onnx.ModelProto()
    combined.ir_version = models[0].ir_version
    combined.opset_import.extend(models[0].opset_import)
    graph = combined.graph
    graph.name = "conformance_group"
    for index, model in enumerate(models):
        part = compose.add_prefix(model, prefix_of(index)).graph
        graph.node.extend(part.node)
        graph.input.extend(part.input)
        graph.output.extend(part.output)
        graph.initializer.extend(part.initializer)
        graph.sparse_initializer.extend(part.sparse_initializer)
        graph.value_info.extend(part.value_info)
    return combined


def run_group(tests):
    """{test name: None or reason} for tests that may share a graph (see above)."""
    loaded, results = {}, {}
    for test in tests:
        try:
            loaded[test] = load_test(test)
        except Exception:
            results[test.name] = run_one(test)  # its own verdict, reason and all
    results.update(run_combined(list(loaded), loaded))
    return results


def run_combined(members, loaded):
    """Runs `members` as one combined model. A group that does not load or run is split in
    halves, down to single models, which run as they are (run_one)."""
    if len(members) <= 1:
        return {t.name: run_one(t) for t in members}
    results, retry = {}, []
    worker = None
    try:
        worker = Worker(combine([loaded[t][0] for t in members]).SerializeToString())
        signature = worker.start()
        tensors, parts = [], []
        for index, test in enumerate(members):
            prefix = prefix_of(index)
            parts.append([s for s in signature["outputs"] if s["name"].startswith(prefix)])
            tensors += request_tensors([s for s in signature["inputs"] if s["name"].startswith(prefix)],
                                       loaded[test][1])
        got = worker.infer(tensors)
    except Exception:  # not combinable, refused, or failed: halve the group
        if worker is not None:
            worker.close()
            worker = None
        half = len(members) // 2
        return {**run_combined(members[:half], loaded), **run_combined(members[half:], loaded)}
    finally:
        if worker is not None:
            worker.close()
    for test, outs in zip(members, parts):
        if compare(outs, got, loaded[test][2]) is None:
            results[test.name] = None
        else:
            retry.append(test)
    for test in retry:
        results[test.name] = run_one(test)
    return results


def batches(tests):
    """The tests as lists: groups of up to GROUP_SIZE that share a graph, and single tests."""
    keyed, alone = {}, []
    for test in tests:
        try:
            key = group_key(onnx.load(str(test / "model.onnx"), load_external_data=False))
        except Exception:
            key = None
        (alone.append([test]) if key is None else keyed.setdefault(key, []).append(test))
    out = []
    for group in keyed.values():
        out += [group[i:i + GROUP_SIZE] for i in range(0, len(group), GROUP_SIZE)]
    return out + alone


def run_batches(work, jobs: int = 2):
    """{test name: None (pass) or reason} for lists of tests from batches(), `jobs` at a time."""
    results = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for part in pool.map(lambda b: run_group(b) if len(b) > 1 else {b[0].name: run_one(b[0])}, work):
            results.update(part)
    return results


def run_tests(tests, jobs: int = 2, grouped: bool = True):
    """{test name: None (pass) or reason} for `tests`, `jobs` workers at a time."""
    results = run_batches(batches(tests) if grouped else [[t] for t in tests], jobs)
    return {t.name: results[t.name] for t in tests}


def all_tests():
    return sorted(p for p in NODE_TESTS.iterdir() if (p / "model.onnx").is_file())


def run_all(jobs: int = 2, grouped: bool = True):
    """{test name: None (pass) or reason}, and the seconds it took."""
    started = time.monotonic()
    results = run_tests(all_tests(), jobs, grouped)
    return results, time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write-known-failures", action="store_true")
    parser.add_argument("--one-worker-per-model", action="store_true",
                        help="no groups: every model in its own worker (slower, same verdicts)")
    args = parser.parse_args()
    results, seconds = run_all(args.jobs, grouped=not args.one_worker_per_model)
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

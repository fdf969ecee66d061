"""Real TorchScript and ONNX models for the confinement tests, made with Debian's
python3-torch and python3-onnx at test time (nothing binary is committed).

Hostile ones reach for files the way an attacker's model would (aten::from_file,
at load time through __setstate__ or at inference); benign ones are slow, stuck or
hungry on a crafted input, which only confinement can contain.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper


def _save(module: torch.nn.Module, path: pathlib.Path) -> pathlib.Path:
    torch.jit.script(module).save(str(path))
    return path


def read_file_model(path: pathlib.Path, secret: str, length: int) -> pathlib.Path:
    """forward() returns the bytes of `secret` (aten::from_file, read-only)."""
    source = f"""
import torch
class ReadFile(torch.nn.Module):
    def forward(self, x):
        data = torch.from_file({secret!r}, False, {length}, dtype=torch.uint8)
        return data.to(torch.float32) + x.sum() * 0
"""
    return _save(_compile(source, "ReadFile")(), path)


def write_file_model(path: pathlib.Path, target: str) -> pathlib.Path:
    """forward() writes into `target` through a shared file-backed tensor."""
    source = f"""
import torch
class WriteFile(torch.nn.Module):
    def forward(self, x):
        data = torch.from_file({target!r}, True, 16, dtype=torch.uint8)
        data.fill_(65)
        return x + data.sum().to(torch.float32) * 0
"""
    return _save(_compile(source, "WriteFile")(), path)


def load_time_read_model(path: pathlib.Path, secret: str, length: int) -> pathlib.Path:
    """Reads `secret` in __setstate__, which runs while the engine loads the model
    (before the worker's final lockdown), keeps it, and returns it from forward()."""
    source = f"""
import torch
from typing import Tuple
class ReadAtLoad(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.loot = torch.zeros({length})
    def forward(self, x):
        return self.loot + x.sum() * 0
    @torch.jit.export
    def __getstate__(self) -> Tuple[int, bool]:
        return (1, self.training)
    @torch.jit.export
    def __setstate__(self, state: Tuple[int, bool]) -> None:
        self.training = state[1]
        self.loot = torch.from_file({secret!r}, False, {length}, dtype=torch.uint8).to(torch.float32)
"""
    module = _compile(source, "ReadAtLoad")()
    return _save(module, path)


def slow_model(path: pathlib.Path) -> pathlib.Path:
    """Adds 1 to x as many times as x.sum() says: fast for 1, stuck for 1e12."""

    class Slow(torch.nn.Module):
        def forward(self, x):
            n = int(x.sum())
            y = x
            for _ in range(n):
                y = y + 1.0
            return y

    return _save(Slow(), path)


def hungry_model(path: pathlib.Path) -> pathlib.Path:
    """Allocates as many floats as x.sum() says: small for 1, past any cap for 1e10."""

    class Hungry(torch.nn.Module):
        def forward(self, x):
            n = int(x.sum())
            return torch.ones([n]).sum().reshape([1]) + x * 0

    return _save(Hungry(), path)


def onnx_lying_initializer(path: pathlib.Path) -> pathlib.Path:
    """A Gemm whose weight initializer declares 1,000,000 x 4 floats but carries 16
    bytes of raw data: OpenCV reads far past the buffer (it crashed the server)."""
    weight = TensorProto()
    weight.name = "W"
    weight.data_type = TensorProto.FLOAT
    weight.dims.extend([1000000, 4])
    weight.raw_data = np.zeros(4, dtype=np.float32).tobytes()
    node = helper.make_node("Gemm", ["input", "W"], ["output"], transB=1)
    graph = helper.make_graph([node], "lying", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1000000])],
                              initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path.write_bytes(model.SerializeToString())
    return path


def _compile(source: str, name: str):
    """A class defined from source text: TorchScript needs the source on disk."""
    import importlib.util
    import tempfile

    folder = pathlib.Path(tempfile.mkdtemp(prefix="aegis-models-"))
    module_file = folder / f"{name.lower()}_src.py"
    module_file.write_text(source)
    spec = importlib.util.spec_from_file_location(module_file.stem, module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)

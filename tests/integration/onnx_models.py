"""Real ONNX models for the ONNX Runtime tests, exported by python3-torch's ONNX exporter.

Each entry of `make_models(dir)` is a model people actually serve, in small: a name, the
.onnx file, its inputs as a function of the batch size, and the torch module, whose outputs
are the reference. The OpenCV DNN engine refuses most of them (TopK, LayerNormalization at
opset 17, TransformerEncoderLayer, Gather of an embedding) or cannot run them at batch > 1
(LSTM); ONNX Runtime serves them all.
"""

import pathlib

import numpy as np
import onnx
import onnx.helper as oh
import torch

OPSET = 17


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=-1)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
        self.head = torch.nn.Linear(8, 5)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class Lstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True)

    def forward(self, x):
        return self.layer(x)


class Embedder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(50, 8)
        self.proj = torch.nn.Linear(8, 4)

    def forward(self, ids):
        return self.proj(self.embedding(ids).mean(dim=1))


class TopkNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(10, 10)
        self.norm = torch.nn.LayerNorm(10)

    def forward(self, x):
        values, indices = torch.topk(self.norm(self.linear(x)), 3)
        return values, indices


class TwoInTwoOut(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(3, 4)
        self.b = torch.nn.Linear(5, 4)

    def forward(self, left, right):
        mixed = torch.tanh(self.a(left) + self.b(right))
        return mixed, mixed.sum(dim=1, keepdim=True)


def _inputs(rng, batch):
    return {
        "mlp": {"x": rng.standard_normal((batch, 6)).astype(np.float32)},
        "cnn": {"image": rng.standard_normal((batch, 1, 8, 8)).astype(np.float32)},
        "lstm": {"sequence": rng.standard_normal((batch, 5, 4)).astype(np.float32)},
        "encoder": {"tokens": rng.standard_normal((batch, 6, 16)).astype(np.float32)},
        "embedder": {"ids": rng.integers(0, 50, size=(batch, 7)).astype(np.int64)},
        "topk_norm": {"x": rng.standard_normal((batch, 10)).astype(np.float32)},
        "two_in_two_out": {"left": rng.standard_normal((batch, 3)).astype(np.float32),
                           "right": rng.standard_normal((batch, 5)).astype(np.float32)},
    }


MODELS = {
    "mlp": (Mlp, ["probabilities"]),
    "cnn": (Cnn, ["logits"]),
    "lstm": (Lstm, ["last"]),
    "encoder": (Encoder, ["encoded"]),
    "embedder": (Embedder, ["embedding"]),
    "topk_norm": (TopkNorm, ["values", "indices"]),
    "two_in_two_out": (TwoInTwoOut, ["mixed", "total"]),
}


def inputs_for(name, batch, seed=0):
    return _inputs(np.random.default_rng(seed + batch), batch)[name]


def reference(module, inputs):
    with torch.no_grad():
        out = module(*[torch.from_numpy(v) for v in inputs.values()])
    out = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in out]


def make_models(directory: pathlib.Path):
    """Exports every model into `directory`; returns {name: (path, module, output names)}."""
    torch.manual_seed(7)
    made = {}
    for name, (cls, outputs) in MODELS.items():
        module = cls().eval()
        example = inputs_for(name, 2)
        path = pathlib.Path(directory) / f"{name}.onnx"
        dynamic = {k: {0: "batch"} for k in list(example) + outputs}
        torch.onnx.export(module, tuple(torch.from_numpy(v) for v in example.values()), str(path),
                          input_names=list(example), output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET)
        made[name] = (path, module, outputs)
    return made


# Every tensor type KServe v2 can carry, through ONNX Identity nodes: name, KServe datatype,
# ONNX element type.
DATATYPES = [
    ("b", "BOOL", onnx.TensorProto.BOOL), ("u8", "UINT8", onnx.TensorProto.UINT8),
    ("u16", "UINT16", onnx.TensorProto.UINT16), ("u32", "UINT32", onnx.TensorProto.UINT32),
    ("u64", "UINT64", onnx.TensorProto.UINT64), ("i8", "INT8", onnx.TensorProto.INT8),
    ("i16", "INT16", onnx.TensorProto.INT16), ("i32", "INT32", onnx.TensorProto.INT32),
    ("i64", "INT64", onnx.TensorProto.INT64), ("f16", "FP16", onnx.TensorProto.FLOAT16),
    ("f32", "FP32", onnx.TensorProto.FLOAT), ("f64", "FP64", onnx.TensorProto.DOUBLE),
    ("s", "BYTES", onnx.TensorProto.STRING),
]


def make_datatypes_model(directory: pathlib.Path) -> pathlib.Path:
    nodes, inputs, outputs = [], [], []
    for name, _, elem in DATATYPES:
        inputs.append(oh.make_tensor_value_info(f"in_{name}", elem, ["n", 2]))
        outputs.append(oh.make_tensor_value_info(f"out_{name}", elem, ["n", 2]))
        nodes.append(oh.make_node("Identity", [f"in_{name}"], [f"out_{name}"]))
    graph = oh.make_graph(nodes, "datatypes", inputs, outputs)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = pathlib.Path(directory) / "datatypes.onnx"
    path.write_bytes(model.SerializeToString())
    return path

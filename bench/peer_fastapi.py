#!/usr/bin/python3
"""Benchmark peer for Aegis: the same TorchScript model behind FastAPI + uvicorn.

What a careful Python team would deploy instead of Aegis: HTTPS (the same certificate as the
Aegis installation under test), a bearer token compared in constant time, KServe v2 JSON in
and out, torch.jit.load + torch.set_num_threads(1) + no_grad. It has no audit trail, no
per-request validation beyond what is needed, and no encryption at rest: it does less work
per request than Aegis.

Configuration comes from the environment so that uvicorn's worker processes see it too:
  PEER_MODEL       path of the TorchScript file (required)
  PEER_TOKEN       bearer token (required; never on the command line)
  PEER_MODEL_NAME  model name in the URL (default: mlp)

  /usr/bin/python3 bench/peer_fastapi.py --port 8600 --cert server.crt --key server.key [--workers 2]
"""

import argparse
import asyncio.base_events
import hmac
import json
import os
import socket
import sys

import numpy as np
import torch
from fastapi import FastAPI, Request, Response

torch.set_num_threads(1)


def _set_nodelay(sock):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# Fairness fix: with --workers > 1 uvicorn creates the listening socket with proto 0, and
# asyncio only sets TCP_NODELAY on accepted sockets whose proto is IPPROTO_TCP. Without it
# every response waits ~40 ms on Nagle + delayed ACK (measured here: 21 req/s on one
# connection). The peer must not lose to Aegis because of that.
asyncio.base_events._set_nodelay = _set_nodelay

MODEL_NAME = os.environ.get("PEER_MODEL_NAME", "mlp")
_EXPECTED = ("Bearer " + os.environ.get("PEER_TOKEN", "")).encode()
_model = torch.jit.load(os.environ["PEER_MODEL"]).eval() if "PEER_MODEL" in os.environ else None

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


def _error(status: int, message: str, headers=None) -> Response:
    return Response(json.dumps({"error": message}), status_code=status, media_type="application/json",
                    headers=headers)


def _authorized(request: Request) -> bool:
    got = request.headers.get("authorization", "").encode()
    return len(_EXPECTED) > len("Bearer ") and hmac.compare_digest(got, _EXPECTED)


@app.get("/v2/health/live")
async def live():
    return Response(b"", status_code=200)


@app.get("/v2/health/ready")
async def ready():
    return Response(b"", status_code=200 if _model is not None else 503)


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    if not _authorized(request):
        return _error(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    if name != MODEL_NAME:
        return _error(404, f"unknown model {name}")
    try:
        req = json.loads(await request.body())
        (tensor,) = req["inputs"]
        if tensor["datatype"] != "FP32":
            return _error(400, "datatype must be FP32")
        array = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    except (ValueError, KeyError, TypeError) as e:
        return _error(400, f"bad request: {e}")
    with torch.no_grad():
        out = _model(torch.from_numpy(array)).numpy()
    resp = {"model_name": name, "model_version": "1",
            "outputs": [{"name": "output", "datatype": "FP32", "shape": list(out.shape),
                         "data": out.reshape(-1).tolist()}]}
    if "id" in req:
        resp["id"] = req["id"]
    return Response(json.dumps(resp), media_type="application/json")


def main():
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    if "PEER_MODEL" not in os.environ or "PEER_TOKEN" not in os.environ:
        sys.exit("peer_fastapi: set PEER_MODEL and PEER_TOKEN")
    uvicorn.run("peer_fastapi:app", app_dir=os.path.dirname(os.path.abspath(__file__)), host=args.host,
                port=args.port, ssl_certfile=args.cert, ssl_keyfile=args.key, workers=args.workers,
                log_level="warning", access_log=False, loop="auto", http="auto")


if __name__ == "__main__":
    main()

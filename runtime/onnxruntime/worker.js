// Aegis's ONNX Runtime engine worker: hosts ONNX Runtime (npm onnxruntime-node)
// and speaks the engine worker protocol's stream transport
// (docs/worker-protocol.md). Started only by `aegis engine-worker`, which has
// already confined the process (namespaces, read-only root, Landlock, rlimits,
// no new privileges, seccomp) before it executed node with this file.
//
// Descriptors: 3 control socket (frames both ways), 4 the sealed model memfd.
// Everything the server sends is checked here as the server checks the worker:
// bounded frames, known types, tensor lists whose every offset and length fit.
// One request at a time; the process exits when the server closes the socket.
'use strict';

const fs = require('fs');

const CONTROL_FD = 3;
const MODEL_FD = 4;
const PROTOCOL = 1;
const T = { hello: 1, loaded: 2, loadFailed: 3, ready: 4, log: 6, request: 7, response: 8 };
const MAX_CONTROL_PAYLOAD = 256 * 1024;
const STREAM_HEADER = 64; // u64 seq, zero padding: the tensor bytes start 64-aligned
const ALIGN = 64;
const MAX_TENSORS = 1024;
const MAX_NAME = 256;
const MAX_RANK = 16;
const MAX_MESSAGE = 4096;
const STATUS = { ok: 0, invalidInput: 1, engineError: 2, outputTooLarge: 3 };
const EXIT = { usage: 2, load: 3, protocol: 5 };

// KServe datatypes in protocol code order (code = index + 1), with the ONNX
// Runtime tensor type and the element size. BYTES is ONNX's string.
const TYPES = [
  ['BOOL', 'bool', 1], ['UINT8', 'uint8', 1], ['UINT16', 'uint16', 2], ['UINT32', 'uint32', 4],
  ['UINT64', 'uint64', 8], ['INT8', 'int8', 1], ['INT16', 'int16', 2], ['INT32', 'int32', 4],
  ['INT64', 'int64', 8], ['FP16', 'float16', 2], ['FP32', 'float32', 4], ['FP64', 'float64', 8],
  ['BYTES', 'string', 0],
];
const ARRAYS = {
  bool: Uint8Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array, float16: Uint16Array,
  float32: Float32Array, float64: Float64Array,
};
const CODE_OF_ORT = Object.fromEntries(TYPES.map(([, ort], i) => [ort, i + 1]));
const KSERVE_OF_ORT = Object.fromEntries(TYPES.map(([kserve, ort]) => [ort, kserve]));

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

class InputError extends Error {}

function parseArgs(argv) {
  const out = { threads: 1 };
  if (argv.length % 2 !== 0) return null;
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--confinement') {
      try {
        out.confinement = JSON.parse(value);
      } catch (e) {
        return null;
      }
      continue;
    }
    if (!/^[0-9]+$/.test(value) && key !== '--format') return null;
    if (key === '--format') out.format = value;
    else if (key === '--memory-limit') out.memoryLimit = Number(value);
    else if (key === '--parent') out.parent = Number(value);
    else if (key === '--threads') out.threads = Number(value);
    else if (key === '--request-capacity') out.requestCapacity = Number(value);
    else if (key === '--response-capacity') out.responseCapacity = Number(value);
    else return null;
  }
  if (out.format !== 'onnx' || !(out.requestCapacity > 0) || !(out.responseCapacity > 0)) return null;
  if (!(out.threads >= 1 && out.threads <= 256)) return null;
  return out;
}

// ---------------------------------------------------------------------------
// Control socket

function writeAll(bytes) {
  for (let done = 0; done < bytes.length;) {
    done += fs.writeSync(CONTROL_FD, bytes, done, bytes.length - done);
  }
}

function frameHeader(type, payloadBytes) {
  const header = Buffer.alloc(5);
  header.writeUInt32LE(payloadBytes + 1, 0);
  header[4] = type;
  return header;
}

function send(type, json) {
  const payload = Buffer.from(JSON.stringify(json), 'utf8');
  writeAll(Buffer.concat([frameHeader(type, payload.length), payload]));
}

// Reads exactly n bytes into a fresh, zero-offset buffer (so typed arrays can
// view 64-aligned tensor data in place); null when the server closed the socket.
function readExactly(n) {
  const buffer = new Uint8Array(new ArrayBuffer(n));
  for (let done = 0; done < n;) {
    let got;
    try {
      got = fs.readSync(CONTROL_FD, buffer, done, n - done, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      throw e;
    }
    if (got === 0) return null;
    done += got;
  }
  return buffer;
}

// The next request frame: {seq, list}. The server sends nothing else after
// `ready`; anything else, or a frame over the request limit, ends the worker.
function readRequest(maxPayload) {
  const header = readExactly(5);
  if (header === null) process.exit(0);
  const length = Buffer.from(header.buffer).readUInt32LE(0);
  if (header[4] !== T.request || length < 1 + STREAM_HEADER || length - 1 > maxPayload) {
    process.stderr.write(`aegis onnx worker: unexpected frame (type ${header[4]}, ${length} bytes)\n`);
    process.exit(EXIT.protocol);
  }
  const payload = readExactly(length - 1);
  if (payload === null) process.exit(0);
  const view = new DataView(payload.buffer);
  return { seq: view.getBigUint64(0, true), list: payload.subarray(STREAM_HEADER) };
}

// ---------------------------------------------------------------------------
// Tensor lists (docs/worker-protocol.md): decode the server's, encode ours.

function fixedBytes(dims, size) {
  let n = 1n;
  for (const d of dims) n *= BigInt(d);
  return n * BigInt(size);
}

function decodeTensorList(bytes) {
  const bad = (why) => {
    throw new InputError('malformed tensor list: ' + why);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8) bad('truncated header');
  const count = view.getUint32(0, true);
  if (count > MAX_TENSORS) bad('too many tensors');
  const tensors = [];
  const names = new Set();
  let entry = 8;
  for (let i = 0; i < count; ++i) {
    if (bytes.length - entry < 24) bad('truncated entry');
    const nameBytes = view.getUint16(entry, true);
    const code = bytes[entry + 2];
    const rank = bytes[entry + 3];
    const offset = view.getBigUint64(entry + 8, true);
    const size = view.getBigUint64(entry + 16, true);
    if (code < 1 || code > TYPES.length) bad('unknown datatype code ' + code);
    if (nameBytes < 1 || nameBytes > MAX_NAME) bad('invalid name length');
    if (rank > MAX_RANK) bad('rank above ' + MAX_RANK);
    const entryBytes = 24 + 8 * rank + Math.ceil(nameBytes / 8) * 8;
    if (bytes.length - entry < entryBytes) bad('truncated entry');
    const dims = [];
    for (let r = 0; r < rank; ++r) {
      const d = view.getBigInt64(entry + 24 + 8 * r, true);
      if (d < 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) bad('invalid dimension');
      dims.push(Number(d));
    }
    let name;
    try {
      name = utf8.decode(bytes.subarray(entry + 24 + 8 * rank, entry + 24 + 8 * rank + nameBytes));
    } catch (e) {
      bad('a tensor name is not UTF-8');
    }
    if (names.has(name)) bad(`tensor '${name.slice(0, 64)}' appears twice`);
    names.add(name);
    entry += entryBytes;
    if (offset % BigInt(ALIGN) !== 0n || offset + size > BigInt(bytes.length)) {
      bad(`data of '${name.slice(0, 64)}' out of bounds`);
    }
    const [, ort, element] = TYPES[code - 1];
    const start = Number(offset);
    const data = bytes.subarray(start, start + Number(size));
    if (ort === 'string') {
      tensors.push({ name, ort, dims, data: decodeStrings(data, Number(fixedBytes(dims, 1)), name) });
    } else {
      if (fixedBytes(dims, element) !== size) bad(`data of '${name.slice(0, 64)}' does not fit its shape`);
      if (start < entry && data.length > 0) bad('data overlaps the entries');
      tensors.push({ name, ort, dims, data: new ARRAYS[ort](bytes.buffer, bytes.byteOffset + start, data.length / element) });
    }
  }
  return tensors;
}

// BYTES elements (u32 length, bytes) as the strings ONNX Runtime takes: they
// must be UTF-8, since a JavaScript string cannot carry other bytes unchanged.
function decodeStrings(data, count, name) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = [];
  let pos = 0;
  for (let i = 0; i < count; ++i) {
    if (data.length - pos < 4) throw new InputError(`malformed BYTES data in '${name.slice(0, 64)}'`);
    const n = view.getUint32(pos, true);
    pos += 4;
    if (data.length - pos < n) throw new InputError(`malformed BYTES data in '${name.slice(0, 64)}'`);
    try {
      out.push(utf8.decode(data.subarray(pos, pos + n)));
    } catch (e) {
      throw new InputError(`input '${name.slice(0, 64)}': BYTES elements must be UTF-8 for an ONNX string tensor`);
    }
    pos += n;
  }
  if (pos !== data.length) throw new InputError(`malformed BYTES data in '${name.slice(0, 64)}'`);
  return out;
}

const roundUp = (n, to) => Math.ceil(n / to) * to;

// The bytes of one output tensor in the protocol's layout.
function outputBytes(tensor) {
  if (tensor.type === 'string') {
    const parts = tensor.data.map((s) => encoder.encode(s));
    const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
    const view = new DataView(out.buffer);
    let pos = 0;
    for (const p of parts) {
      view.setUint32(pos, p.length, true);
      out.set(p, pos + 4);
      pos += 4 + p.length;
    }
    return out;
  }
  const data = tensor.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// A success response (header, then the tensor list at 64) after the stream
// header; null when it would exceed `capacity`.
function encodeSuccess(seq, outputs, capacity) {
  const entries = outputs.map(({ name, tensor }) => {
    const nameBytes = encoder.encode(name);
    return { nameBytes, tensor, data: outputBytes(tensor) };
  });
  let size = 8;
  for (const e of entries) size += 24 + 8 * e.tensor.dims.length + roundUp(e.nameBytes.length, 8);
  for (const e of entries) size = roundUp(size, ALIGN) + e.data.length;
  if (64 + size > capacity) return null;
  const frameBytes = 5 + STREAM_HEADER + 64 + size;
  const out = new Uint8Array(frameBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, frameBytes - 4, true);
  out[4] = T.response;
  view.setBigUint64(5, seq, true);
  const response = 5 + STREAM_HEADER;
  view.setUint32(response, STATUS.ok, true);
  view.setBigUint64(response + 16, 64n, true);
  const list = response + 64;
  view.setUint32(list, entries.length, true);
  let entry = 8;
  let data = 8;
  for (const e of entries) data += 24 + 8 * e.tensor.dims.length + roundUp(e.nameBytes.length, 8);
  for (const e of entries) {
    data = roundUp(data, ALIGN);
    const at = list + entry;
    view.setUint16(at, e.nameBytes.length, true);
    out[at + 2] = CODE_OF_ORT[e.tensor.type];
    out[at + 3] = e.tensor.dims.length;
    view.setBigUint64(at + 8, BigInt(data), true);
    view.setBigUint64(at + 16, BigInt(e.data.length), true);
    e.tensor.dims.forEach((d, i) => view.setBigInt64(at + 24 + 8 * i, BigInt(d), true));
    out.set(e.nameBytes, at + 24 + 8 * e.tensor.dims.length);
    out.set(e.data, list + data);
    entry += 24 + 8 * e.tensor.dims.length + roundUp(e.nameBytes.length, 8);
    data += e.data.length;
  }
  return out;
}

function encodeFailure(seq, status, publicMessage, detail) {
  const pub = encoder.encode(publicMessage).subarray(0, MAX_MESSAGE);
  const det = encoder.encode(detail).subarray(0, MAX_MESSAGE);
  const payload = STREAM_HEADER + 24 + pub.length + det.length;
  const out = new Uint8Array(5 + payload);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload + 1, true);
  out[4] = T.response;
  view.setBigUint64(5, seq, true);
  const response = 5 + STREAM_HEADER;
  view.setUint32(response, status, true);
  view.setUint32(response + 4, pub.length, true);
  view.setUint32(response + 8, det.length, true);
  out.set(pub, response + 24);
  out.set(det, response + 24 + pub.length);
  return out;
}

// ---------------------------------------------------------------------------
// The model

// ONNX Runtime's element type codes (ONNXTensorElementDataType) as tensor types.
const ORT_TYPE_OF_CODE = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

function spec(metadata, role) {
  if (!metadata.isTensor) throw new Error(`${role} '${metadata.name}' is not a tensor`);
  const datatype = KSERVE_OF_ORT[ORT_TYPE_OF_CODE[metadata.type]];
  if (datatype === undefined) {
    throw new Error(`${role} '${metadata.name}' has ONNX type ${metadata.type}, which KServe v2 cannot carry`);
  }
  // Symbolic or unknown dimensions arrive as names: variable.
  const shape = metadata.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return { name: metadata.name, datatype, shape, rank_known: true, datatype_fixed: true };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options === null) {
    process.stderr.write('aegis: the ONNX engine worker is started by `aegis serve`, not by hand\n');
    process.exit(EXIT.usage);
  }
  send(T.hello, { protocol: PROTOCOL, pid: process.pid, engine: 'onnx', transport: 'stream' });
  const fail = (error, detail) => {
    send(T.loadFailed, { stage: 'load', error, detail: String(detail).slice(0, MAX_MESSAGE) });
    process.exit(EXIT.load);
  };

  // The model, read once; the descriptor is closed before the engine parses a
  // byte, so no later code can map the (sealed, read-only) bytes again.
  let model;
  try {
    const size = fs.fstatSync(MODEL_FD).size;
    model = Buffer.alloc(size);
    for (let done = 0; done < size;) {
      const n = fs.readSync(MODEL_FD, model, done, size - done, done);
      if (n === 0) throw new Error('short read');
      done += n;
    }
    fs.closeSync(MODEL_FD);
  } catch (e) {
    fail('the model could not be read', e.message);
  }

  // The package's native binding, used directly: its run is synchronous, which
  // is all a one-request-at-a-time worker needs (the public API wraps it in a
  // promise and an extra turn of the event loop per request).
  let ort, binding;
  try {
    ort = require('onnxruntime-node');
    const native = require(require.resolve('onnxruntime-node').replace(/index\.js$/, 'binding.js'));
    native.initOrt();
    binding = native.binding;
  } catch (e) {
    fail('ONNX Runtime is not installed: run `make onnxruntime`', e.message);
  }
  let session;
  try {
    session = new binding.InferenceSession();
    session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      // No optimized-model file: the session option that would write one is
      // never set, and the worker cannot write files anyway.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  } catch (e) {
    const message = String(e && e.message ? e.message : e).split('\n')[0].slice(0, 512);
    fail(`ONNX Runtime refused the model: ${message}`, '');
  }
  model = null;
  let signature;
  try {
    signature = {
      platform: 'onnxruntime_onnx',
      inputs: session.inputMetadata.map((m) => spec(m, 'input')),
      outputs: session.outputMetadata.map((m) => spec(m, 'output')),
      // ONNX Runtime's own metadata: type codes and -1 for symbolic dimensions.
    };
  } catch (e) {
    fail(e.message, '');
  }
  send(T.loaded, signature);
  // What the launcher confined this process with, as it reported it.
  send(T.ready, { confinement: options.confinement || {} });

  const inputTypes = new Map(signature.inputs.map((s) => [s.name, s]));
  const fetches = Object.fromEntries(signature.outputs.map((s) => [s.name, null]));
  for (;;) {
    const { seq, list } = readRequest(options.requestCapacity + STREAM_HEADER);
    let reply;
    try {
      const feeds = {};
      for (const t of decodeTensorList(list)) {
        // The server validated the inputs against the signature; the worker does
        // not take that on trust for what ONNX Runtime would read.
        const declared = inputTypes.get(t.name);
        if (!declared || TYPES.find((x) => x[1] === t.ort)[0] !== declared.datatype) {
          throw new InputError(`input '${t.name.slice(0, 64)}' is not one the model declares with that datatype`);
        }
        feeds[t.name] = new ort.Tensor(t.ort, t.data, t.dims);
      }
      const results = session.run(feeds, fetches, {});
      const outputs = signature.outputs.map((s) => ({ name: s.name, tensor: results[s.name] }));
      reply = encodeSuccess(seq, outputs, options.responseCapacity);
      if (reply === null) {
        reply = encodeFailure(seq, STATUS.outputTooLarge,
          `the model's output is larger than the response limit of ${options.responseCapacity} bytes`, '');
      }
    } catch (e) {
      const detail = String(e && e.message ? e.message : e);
      const invalid = e instanceof InputError || /invalid (rank|dimensions)|Got invalid dimensions|shape/i.test(detail);
      reply = encodeFailure(seq, invalid ? STATUS.invalidInput : STATUS.engineError,
        invalid ? 'the input does not fit the model' : 'inference failed', detail);
    }
    writeAll(reply);
  }
}

main().catch((e) => {
  process.stderr.write(`aegis onnx worker: ${e && e.stack ? e.stack : e}\n`);
  process.exit(EXIT.protocol);
});

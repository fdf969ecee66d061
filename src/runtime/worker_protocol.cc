// The engine worker protocol's encoders and its bounds-checked decoders.
#include "worker_protocol.h"

#include <cstring>
#include <limits>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "aegis/common/strict_json.h"
#include "aegis/common/utf8.h"

namespace aegis::runtime::worker {
namespace {

constexpr size_t kEntryFixedBytes = 24;  // name length .. data_bytes
constexpr size_t kListHeaderBytes = 8;
constexpr uint64_t kPage = 4096;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// Overflow-checked a + b.
bool Add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Bytes the data of a tensor with this shape and datatype must have; nullopt for
// BYTES (variable) or on overflow. `count` receives the element count.
std::optional<uint64_t> FixedDataBytes(DataType type, const std::vector<int64_t>& shape, uint64_t& count) {
  uint64_t n = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim != 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) return std::nullopt;
    n *= static_cast<uint64_t>(dim);
  }
  count = n;
  const size_t element = DataTypeSize(type);
  if (element == 0 || n > std::numeric_limits<uint64_t>::max() / element) return std::nullopt;
  return n * element;
}

// Checks BYTES data holds exactly `count` well-formed elements.
bool BytesDataHolds(std::span<const uint8_t> data, uint64_t count) {
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (data.size() - pos < 4) return false;
    const uint32_t length = Load<uint32_t>(data.data() + pos);
    pos += 4;
    if (data.size() - pos < length) return false;
    pos += length;
  }
  return pos == data.size();
}

uint64_t EntryBytes(size_t name_bytes, size_t rank) { return kEntryFixedBytes + 8 * rank + RoundUp(name_bytes, 8); }

nlohmann::json SpecJson(const TensorSpec& spec) {
  return {{"name", spec.name},
          {"datatype", std::string(DataTypeName(spec.datatype))},
          {"shape", spec.shape},
          {"rank_known", spec.rank_known},
          {"datatype_fixed", spec.datatype_fixed}};
}

// `field` is a lookup that may have failed (a missing key, a root that is not an
// object): taken as a result, never converted, since converting a failed one throws.
StatusOr<std::vector<TensorSpec>> SpecsFrom(simdjson::simdjson_result<json::element> field, std::string_view what) {
  simdjson::dom::array items;
  if (field.get_array().get(items) != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string(what) + " must be an array");
  }
  std::vector<TensorSpec> specs;
  std::unordered_set<std::string> names;
  for (json::element item : items) {
    if (specs.size() >= kMaxTensors) return Status::InvalidArgument(std::string(what) + ": too many tensors");
    TensorSpec spec;
    std::string_view name, datatype;
    simdjson::dom::array shape;
    bool rank_known = false, datatype_fixed = false;
    if (item["name"].get_string().get(name) != simdjson::SUCCESS ||
        item["datatype"].get_string().get(datatype) != simdjson::SUCCESS ||
        item["shape"].get_array().get(shape) != simdjson::SUCCESS ||
        item["rank_known"].get_bool().get(rank_known) != simdjson::SUCCESS ||
        item["datatype_fixed"].get_bool().get(datatype_fixed) != simdjson::SUCCESS) {
      return Status::InvalidArgument(std::string(what) + ": malformed tensor spec");
    }
    if (name.empty() || name.size() > kMaxTensorName || !IsUtf8(name) || !names.insert(std::string(name)).second) {
      return Status::InvalidArgument(std::string(what) + ": invalid or repeated tensor name");
    }
    auto type = ParseDataType(datatype);
    if (!type) return Status::InvalidArgument(std::string(what) + ": unknown datatype");
    for (json::element dim : shape) {
      int64_t d = 0;
      if (dim.get_int64().get(d) != simdjson::SUCCESS || d < -1 || spec.shape.size() >= kMaxRank) {
        return Status::InvalidArgument(std::string(what) + ": invalid shape");
      }
      spec.shape.push_back(d);
    }
    if (!rank_known && !spec.shape.empty()) return Status::InvalidArgument(std::string(what) + ": invalid shape");
    spec.name = std::string(name);
    spec.datatype = *type;
    spec.rank_known = rank_known;
    spec.datatype_fixed = datatype_fixed;
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

// ---------------------------------------------------------------------------
// Control frames

void AppendFrame(MessageType type, std::string_view payload, std::string& out) {
  const uint32_t length = static_cast<uint32_t>(payload.size() + 1);
  uint8_t header[kFrameHeaderBytes];
  Store<uint32_t>(header, length);
  header[4] = static_cast<uint8_t>(type);
  out.append(reinterpret_cast<const char*>(header), sizeof(header));
  out.append(payload);
}

void FrameReader::Feed(std::span<const uint8_t> bytes) {
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

StatusOr<std::optional<FrameReader::Frame>> FrameReader::Next() {
  const size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderBytes) return std::optional<Frame>();
  const auto* p = reinterpret_cast<const uint8_t*>(buffer_.data() + consumed_);
  const uint32_t length = Load<uint32_t>(p);
  const uint8_t type = p[4];
  const bool tensors =
      type == static_cast<uint8_t>(MessageType::kRequest) || type == static_cast<uint8_t>(MessageType::kResponse);
  if (type < static_cast<uint8_t>(MessageType::kHello) || type > static_cast<uint8_t>(MessageType::kResponse) ||
      (tensors && max_tensor_payload_ == 0)) {
    return Status::InvalidArgument("control frame of unknown type " + std::to_string(type));
  }
  const uint64_t max_payload = tensors ? max_tensor_payload_ : kMaxFramePayload;
  if (length == 0 || length - 1 > max_payload) return Status::InvalidArgument("control frame of invalid length");
  if (available < 4 + static_cast<size_t>(length)) return std::optional<Frame>();
  Frame frame{static_cast<MessageType>(type), buffer_.substr(consumed_ + kFrameHeaderBytes, length - 1)};
  consumed_ += 4 + static_cast<size_t>(length);
  if (consumed_ > size_t{64} * 1024 && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return std::optional<Frame>(std::move(frame));
}

// ---------------------------------------------------------------------------
// Arena

ArenaHeader ArenaLayout(uint64_t request_capacity, uint64_t response_capacity) {
  ArenaHeader h{};
  h.magic = kArenaMagic;
  h.version = kProtocolVersion;
  h.request_offset = kArenaHeaderBytes;
  h.request_capacity = RoundUp(request_capacity, kPage);
  h.response_offset = h.request_offset + h.request_capacity;
  h.response_capacity = RoundUp(response_capacity, kPage);
  h.arena_bytes = h.response_offset + h.response_capacity;
  return h;
}

Status CheckArenaLayout(const ArenaHeader& h, uint64_t mapped_bytes) {
  uint64_t request_end = 0, response_end = 0;
  if (h.magic != kArenaMagic || h.version != kProtocolVersion) return Status::InvalidArgument("not an arena");
  if (h.arena_bytes != mapped_bytes || h.request_offset < kArenaHeaderBytes ||
      h.request_offset % kTensorAlignment != 0 || h.response_offset % kTensorAlignment != 0 ||
      !Add(h.request_offset, h.request_capacity, request_end) ||
      !Add(h.response_offset, h.response_capacity, response_end) || request_end > h.response_offset ||
      response_end > mapped_bytes) {
    return Status::InvalidArgument("inconsistent arena layout");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Tensor lists

uint8_t DataTypeCode(DataType type) { return static_cast<uint8_t>(static_cast<uint8_t>(type) + 1); }

std::optional<DataType> DataTypeFromCode(uint8_t code) {
  if (code == 0 || code > static_cast<uint8_t>(DataType::kBytes) + 1) return std::nullopt;
  return static_cast<DataType>(code - 1);
}

std::optional<uint64_t> EncodedTensorListSize(std::span<const TensorView> tensors) {
  uint64_t size = kListHeaderBytes;
  for (const TensorView& t : tensors) {
    if (!Add(size, EntryBytes(t.name.size(), t.shape.size()), size)) return std::nullopt;
  }
  for (const TensorView& t : tensors) {
    size = RoundUp(size, kTensorAlignment);
    if (!Add(size, t.data.size(), size)) return std::nullopt;
  }
  return size;
}

StatusOr<uint64_t> EncodeTensorList(std::span<const TensorView> tensors, std::span<uint8_t> out) {
  if (tensors.size() > kMaxTensors) return Status::InvalidArgument("too many tensors");
  const std::optional<uint64_t> size = EncodedTensorListSize(tensors);
  if (!size || *size > out.size()) return Status::TooLarge("the tensors do not fit the shared memory area");
  uint8_t* base = out.data();
  Store<uint32_t>(base, static_cast<uint32_t>(tensors.size()));
  Store<uint32_t>(base + 4, 0);
  uint64_t entry = kListHeaderBytes;
  uint64_t data = kListHeaderBytes;
  for (const TensorView& t : tensors) data += EntryBytes(t.name.size(), t.shape.size());
  for (const TensorView& t : tensors) {
    if (t.name.empty() || t.name.size() > kMaxTensorName || t.shape.size() > kMaxRank) {
      return Status::InvalidArgument("tensor name or rank out of range");
    }
    data = RoundUp(data, kTensorAlignment);
    uint8_t* e = base + entry;
    Store<uint16_t>(e, static_cast<uint16_t>(t.name.size()));
    e[2] = DataTypeCode(t.datatype);
    e[3] = static_cast<uint8_t>(t.shape.size());
    Store<uint32_t>(e + 4, 0);
    Store<uint64_t>(e + 8, data);
    Store<uint64_t>(e + 16, t.data.size());
    for (size_t i = 0; i < t.shape.size(); ++i) Store<int64_t>(e + kEntryFixedBytes + 8 * i, t.shape[i]);
    uint8_t* name = e + kEntryFixedBytes + 8 * t.shape.size();
    std::memcpy(name, t.name.data(), t.name.size());
    std::memset(name + t.name.size(), 0, RoundUp(t.name.size(), 8) - t.name.size());
    if (!t.data.empty()) std::memcpy(base + data, t.data.data(), t.data.size());
    entry += EntryBytes(t.name.size(), t.shape.size());
    data += t.data.size();
  }
  return *size;
}

StatusOr<DecodedTensors> DecodeTensorList(std::span<const uint8_t> in) {
  auto bad = [](const std::string& why) { return Status::InvalidArgument("malformed tensor list: " + why); };
  if (in.size() < kListHeaderBytes) return bad("truncated header");
  const uint32_t count = Load<uint32_t>(in.data());
  if (count > kMaxTensors) return bad("too many tensors");
  DecodedTensors out;
  out.views.reserve(count);
  std::unordered_set<std::string_view> names;
  uint64_t entry = kListHeaderBytes;
  uint64_t entries_end = kListHeaderBytes;
  for (uint32_t i = 0; i < count; ++i) {
    if (in.size() - entry < kEntryFixedBytes) return bad("truncated entry");
    uint8_t fixed[kEntryFixedBytes];  // one read of the fixed fields
    std::memcpy(fixed, in.data() + entry, sizeof(fixed));
    const uint16_t name_bytes = Load<uint16_t>(fixed);
    const std::optional<DataType> type = DataTypeFromCode(fixed[2]);
    const uint8_t rank = fixed[3];
    const uint64_t data_offset = Load<uint64_t>(fixed + 8);
    const uint64_t data_bytes = Load<uint64_t>(fixed + 16);
    if (!type) return bad("unknown datatype code " + std::to_string(fixed[2]));
    if (name_bytes == 0 || name_bytes > kMaxTensorName) return bad("invalid name length");
    if (rank > kMaxRank) return bad("rank above " + std::to_string(kMaxRank));
    const uint64_t size = EntryBytes(name_bytes, rank);
    if (in.size() - entry < size) return bad("truncated entry");
    TensorView view;
    view.datatype = *type;
    view.shape.resize(rank);
    // A scalar has no dimensions: no copy (an empty vector's data() may be null).
    if (rank > 0) std::memcpy(view.shape.data(), in.data() + entry + kEntryFixedBytes, 8 * size_t{rank});
    std::string& name = out.owned.emplace_back(
        reinterpret_cast<const char*>(in.data()) + entry + kEntryFixedBytes + 8 * size_t{rank}, name_bytes);
    if (!IsUtf8(name)) return bad("a tensor name is not UTF-8");
    if (!names.insert(name).second) return bad("tensor '" + name.substr(0, 64) + "' appears twice");
    view.name = name;
    entry += size;
    entries_end = entry;
    uint64_t data_end = 0;
    if (data_offset % kTensorAlignment != 0 || !Add(data_offset, data_bytes, data_end) || data_end > in.size()) {
      return bad("data of '" + name.substr(0, 64) + "' out of bounds");
    }
    uint64_t elements = 0;
    if (*type == DataType::kBytes) {
      for (int64_t dim : view.shape) {
        if (dim < 0) return bad("negative dimension");
      }
      if (!FixedDataBytes(DataType::kUint8, view.shape, elements)) return bad("shape too large");
      // Copied before it is checked: the prefixes must not change afterwards.
      std::string& bytes = out.owned.emplace_back(reinterpret_cast<const char*>(in.data()) + data_offset,
                                                  static_cast<size_t>(data_bytes));
      const std::span<const uint8_t> copy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      if (!BytesDataHolds(copy, elements)) return bad("malformed BYTES data in '" + name.substr(0, 64) + "'");
      view.data = copy;
    } else {
      const std::optional<uint64_t> expected = FixedDataBytes(*type, view.shape, elements);
      if (!expected || *expected != data_bytes)
        return bad("data of '" + name.substr(0, 64) + "' does not fit its shape");
      view.data = in.subspan(data_offset, data_bytes);
    }
    out.views.push_back(std::move(view));
  }
  // Data blocks must not overlap the entries they are described by.
  for (const TensorView& v : out.views) {
    if (!v.data.empty() && v.datatype != DataType::kBytes && v.data.data() < in.data() + entries_end) {
      return bad("data overlaps the entries");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Responses

uint64_t EncodeFailure(ResponseStatus status, std::string_view public_message, std::string_view detail,
                       std::span<uint8_t> out) {
  public_message = public_message.substr(0, kMaxResponseMessage);
  detail = detail.substr(0, kMaxResponseMessage);
  if (out.size() < kResponseHeaderBytes + public_message.size() + detail.size()) return 0;
  uint8_t* p = out.data();
  Store<uint32_t>(p, static_cast<uint32_t>(status));
  Store<uint32_t>(p + 4, static_cast<uint32_t>(public_message.size()));
  Store<uint32_t>(p + 8, static_cast<uint32_t>(detail.size()));
  Store<uint32_t>(p + 12, 0);
  Store<uint64_t>(p + 16, 0);
  if (!public_message.empty()) std::memcpy(p + kResponseHeaderBytes, public_message.data(), public_message.size());
  if (!detail.empty()) std::memcpy(p + kResponseHeaderBytes + public_message.size(), detail.data(), detail.size());
  return kResponseHeaderBytes + public_message.size() + detail.size();
}

StatusOr<uint64_t> EncodeSuccess(std::span<const TensorView> outputs, std::span<uint8_t> out) {
  constexpr uint64_t kListOffset = 64;  // the header, padded to the tensor alignment
  if (out.size() < kListOffset) return Status::TooLarge("the response area is too small");
  AEGIS_ASSIGN_OR_RETURN(uint64_t list_bytes, EncodeTensorList(outputs, out.subspan(kListOffset)));
  uint8_t* p = out.data();
  Store<uint32_t>(p, static_cast<uint32_t>(ResponseStatus::kOk));
  Store<uint32_t>(p + 4, 0);
  Store<uint32_t>(p + 8, 0);
  Store<uint32_t>(p + 12, 0);
  Store<uint64_t>(p + 16, kListOffset);
  return kListOffset + list_bytes;
}

StatusOr<DecodedResponse> DecodeResponse(std::span<const uint8_t> in) {
  if (in.size() < kResponseHeaderBytes) return Status::InvalidArgument("truncated response");
  uint8_t header[kResponseHeaderBytes];
  std::memcpy(header, in.data(), sizeof(header));
  const uint32_t status = Load<uint32_t>(header);
  const uint32_t public_bytes = Load<uint32_t>(header + 4);
  const uint32_t detail_bytes = Load<uint32_t>(header + 8);
  const uint64_t list_offset = Load<uint64_t>(header + 16);
  DecodedResponse response;
  if (status > static_cast<uint32_t>(ResponseStatus::kOutputTooLarge)) {
    return Status::InvalidArgument("unknown response status " + std::to_string(status));
  }
  response.status = static_cast<ResponseStatus>(status);
  if (response.status != ResponseStatus::kOk) {
    if (public_bytes > kMaxResponseMessage || detail_bytes > kMaxResponseMessage ||
        in.size() - kResponseHeaderBytes < uint64_t{public_bytes} + detail_bytes) {
      return Status::InvalidArgument("response message out of bounds");
    }
    const char* text = reinterpret_cast<const char*>(in.data()) + kResponseHeaderBytes;
    response.public_message.assign(text, public_bytes);
    response.detail.assign(text + public_bytes, detail_bytes);
    return response;
  }
  if (list_offset < kResponseHeaderBytes || list_offset % kTensorAlignment != 0 || list_offset >= in.size()) {
    return Status::InvalidArgument("response tensor list out of bounds");
  }
  // Offsets inside the list are relative to its start, which is 64-aligned.
  AEGIS_ASSIGN_OR_RETURN(response.outputs, DecodeTensorList(in.subspan(list_offset)));
  return response;
}

// ---------------------------------------------------------------------------
// Stream transport

Status AppendStreamRequest(uint64_t seq, std::span<const TensorView> inputs, uint64_t capacity, std::string& out) {
  const std::optional<uint64_t> list_bytes = EncodedTensorListSize(inputs);
  if (!list_bytes || *list_bytes > capacity || *list_bytes > UINT32_MAX - 1 - kStreamHeaderBytes) {
    return Status::TooLarge("the tensors do not fit the request limit");
  }
  const size_t start = out.size();
  const uint64_t payload = kStreamHeaderBytes + *list_bytes;
  out.resize(start + kFrameHeaderBytes + payload);
  auto* frame = reinterpret_cast<uint8_t*>(out.data() + start);
  Store<uint32_t>(frame, static_cast<uint32_t>(payload + 1));
  frame[4] = static_cast<uint8_t>(MessageType::kRequest);
  std::memset(frame + kFrameHeaderBytes, 0, kStreamHeaderBytes);
  Store<uint64_t>(frame + kFrameHeaderBytes, seq);
  auto written = EncodeTensorList(inputs, {frame + kFrameHeaderBytes + kStreamHeaderBytes, *list_bytes});
  if (!written.ok()) {
    out.resize(start);
    return written.status();
  }
  return Status::Ok();
}

StatusOr<StreamResponse> DecodeStreamResponse(std::span<const uint8_t> in) {
  if (in.size() < kStreamHeaderBytes) return Status::InvalidArgument("truncated stream response");
  StreamResponse out;
  out.seq = Load<uint64_t>(in.data());
  AEGIS_ASSIGN_OR_RETURN(out.response, DecodeResponse(in.subspan(kStreamHeaderBytes)));
  return out;
}

// ---------------------------------------------------------------------------
// Signatures

std::string SignatureJson(const LoadedModel& model) {
  nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array();
  for (const TensorSpec& spec : model.signature.inputs) inputs.push_back(SpecJson(spec));
  for (const TensorSpec& spec : model.signature.outputs) outputs.push_back(SpecJson(spec));
  return nlohmann::json{{"platform", model.platform}, {"inputs", inputs}, {"outputs", outputs}}.dump();
}

StatusOr<LoadedModel> ParseSignatureJson(std::string_view text) {
  json::JsonDocument doc;
  AEGIS_RETURN_IF_ERROR(doc.Parse(text, "the worker's model signature", 6));
  LoadedModel model;
  std::string_view platform;
  if (doc.root()["platform"].get_string().get(platform) != simdjson::SUCCESS || platform.empty() ||
      platform.size() > 64 || !IsUtf8(platform)) {
    return Status::InvalidArgument("the worker's model signature has no valid platform");
  }
  model.platform = std::string(platform);
  AEGIS_ASSIGN_OR_RETURN(model.signature.inputs, SpecsFrom(doc.root()["inputs"], "inputs"));
  AEGIS_ASSIGN_OR_RETURN(model.signature.outputs, SpecsFrom(doc.root()["outputs"], "outputs"));
  return model;
}

}  // namespace aegis::runtime::worker

// RequestHead accessors and Response constructors. The JSON error body is built
// here (not by a JSON library) so that the http module has no JSON dependency;
// the escaping is complete for what it writes: one string value.
#include "aegis/http/message.h"

#include <atomic>
#include <cstdio>

#include "target.h"

namespace aegis::http {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not valid (overlong,
// surrogate, out of range or truncated). JSON must be valid UTF-8, and error
// messages may quote bytes a client sent.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

void AppendJsonString(std::string_view s, std::string& out) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace

std::string_view ListenerName(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::kAdmin:
      return "admin";
    case ListenerKind::kMetrics:
      return "metrics";
    case ListenerKind::kData:
      break;
  }
  return "data";
}

std::optional<std::string_view> RequestHead::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string> RequestHead::QueryParam(std::string_view key) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    const auto name = internal::PercentDecode(pair.substr(0, eq), /*plus_is_space=*/true);
    if (!name || *name != key) continue;
    if (eq == std::string_view::npos) return std::string();
    // A malformed value is treated as absent rather than guessed at.
    return internal::PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true);
  }
  return std::nullopt;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::Error(const Status& status) { return Error(HttpStatusOf(status.code()), status.message()); }

Response Response::Error(int http_status, std::string_view message) {
  Response r;
  r.status = http_status;
  r.body.reserve(message.size() + 16);
  r.body = "{\"error\": ";
  AppendJsonString(message, r.body);
  r.body.push_back('}');
  r.error = message;
  return r;
}

}  // namespace aegis::http

namespace aegis::http {

struct Reply::State {
  std::function<void(Response)> deliver;
  std::atomic<bool> used{false};
  ~State() {
    if (!used.exchange(true)) deliver(Response::Error(500, "internal error: the request was not answered"));
  }
};

Reply::Reply(std::function<void(Response)> deliver) : state_(std::make_shared<State>()) {
  state_->deliver = std::move(deliver);
}

void Reply::operator()(Response response) const {
  if (!state_->used.exchange(true)) state_->deliver(std::move(response));
}

}  // namespace aegis::http

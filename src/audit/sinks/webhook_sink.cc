#include "aegis/audit/webhook_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aegis/http/client.h"
#include "queued_sink.h"
#include "syslog_transport.h"
#include "webhook_batch.h"

namespace aegis::audit {
namespace {

using internal::DeliveryOutcome;
using internal::SinkItem;
using internal::SteadyTime;
using Steady = std::chrono::steady_clock;

constexpr uint64_t kMaxAnswerBytes = 64u << 10;  // we read only the status

class WebhookSinkImpl final : public internal::QueuedSink<WebhookSink> {
 public:
  WebhookSinkImpl(WebhookOptions o, WebhookUrl url)
      : QueuedSink(o.queue_size, o.stop_drain), o_(std::move(o)), url_(std::move(url)) {
    Start();
  }
  ~WebhookSinkImpl() override { Stop(); }

  std::string_view name() const override { return "webhook"; }

 private:
  void Run() override {
    internal::DropReporter reporter(o_.on_drop);
    internal::Backoff backoff(o_.backoff_initial, o_.backoff_max);
    std::vector<SinkItem> items;
    for (;;) {
      items.clear();
      queue_.Pop(items, o_.batch_size, 1, Steady::now() + std::chrono::seconds(1));
      if (!items.empty() && items.size() < o_.batch_size && !queue_.closed()) {
        // A batch fills for at most batch_delay after its first item.
        const size_t want = o_.batch_size - items.size();
        queue_.Pop(items, want, want, Steady::now() + o_.batch_delay);
      }
      in_hand_ = items.size();
      reporter.Poll(queue_.dropped(), Steady::now());
      if (items.empty()) {
        if (queue_.closed()) break;
        continue;
      }
      const std::string body = o_.format == WebhookFormat::kAlertmanager
                                   ? internal::BuildAlertmanagerPayload(items, o_.receiver)
                                   : internal::BuildWebhookBatch(items);
      for (;;) {
        if (Steady::now() >= queue_.drain_deadline()) {
          queue_.AddDropped(items.size());
          break;
        }
        std::string why;
        const DeliveryOutcome outcome = Post(body, why);
        if (outcome == DeliveryOutcome::kDelivered) {
          delivered_ += items.size();
          if (failing_) spdlog::info("audit webhook: delivering to {} again", url_.origin);
          failing_ = false;
          backoff.Reset();
          break;
        }
        ++failures_;
        if (outcome == DeliveryOutcome::kRejected) {
          spdlog::warn("audit webhook: {} refused a batch of {} events ({}); dropped", url_.origin, items.size(), why);
          queue_.AddDropped(items.size());
          break;
        }
        if (!failing_)
          spdlog::warn("audit webhook: cannot deliver to {} ({}); retrying with back-off", url_.origin, why);
        failing_ = true;
        WaitBeforeRetry(backoff, reporter);
      }
      in_hand_ = 0;
      reporter.Poll(queue_.dropped(), Steady::now());
    }
    queue_.DropAll();
    in_hand_ = 0;
    client_.reset();
    reporter.Final(queue_.dropped());
  }

  DeliveryOutcome Post(const std::string& body, std::string& why) {
    StatusOr<int> answer = Status::Unavailable("not sent");
    if (!client_) {
      http::ClientOptions c;
      c.server = url_.origin;
      if (!o_.ca_file.empty()) c.ca_file = o_.ca_file;
      if (!o_.bearer_token.empty()) c.bearer_token = o_.bearer_token;
      c.timeout_seconds = static_cast<int>(o_.timeout.count());
      c.max_response_bytes = kMaxAnswerBytes;
      auto connected = http::HttpsClient::Connect(c);
      if (connected.ok()) {
        client_ = std::move(connected).value();
      } else {
        answer = connected.status();
      }
    }
    if (client_) {
      auto response = client_->Request("POST", url_.target, body, "application/json");
      if (response.ok()) {
        answer = response->status;
      } else {
        answer = response.status();
        client_.reset();
      }
    }
    why = answer.ok() ? "HTTP " + std::to_string(*answer) : answer.status().message();
    return internal::ClassifyDelivery(answer);
  }

  const WebhookOptions o_;
  const WebhookUrl url_;
  std::unique_ptr<http::HttpsClient> client_;  // sink thread only; null while disconnected
  bool failing_ = false;                       // sink thread only
};

bool IsTokenChar(char c) { return c > 0x20 && c < 0x7F; }

}  // namespace

namespace internal {

std::string BuildWebhookBatch(const std::vector<SinkItem>& items) {
  size_t size = 32;
  for (const auto& item : items) size += item.json.size() + 1;
  std::string events, heads;
  events.reserve(size);
  for (const auto& item : items) {
    std::string& list = item.head ? heads : events;
    if (!list.empty()) list += ',';
    list += item.json;
  }
  return "{\"events\":[" + events + "],\"heads\":[" + heads + "]}";
}

std::string BuildAlertmanagerPayload(const std::vector<SinkItem>& items, const std::string& receiver) {
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& item : items) {
    auto alert = nlohmann::json::parse(item.json, nullptr, false);
    if (alert.is_object()) alerts.push_back(std::move(alert));
  }
  // What every alert shares: common labels and annotations, and the status.
  nlohmann::json common_labels = nlohmann::json::object(), common_annotations = nlohmann::json::object();
  bool firing = false;
  for (size_t i = 0; i < alerts.size(); ++i) {
    const auto& alert = alerts[i];
    firing = firing || alert.value("status", "") == "firing";
    for (const char* part : {"labels", "annotations"}) {
      nlohmann::json& common = std::string_view(part) == "labels" ? common_labels : common_annotations;
      const auto it = alert.find(part);
      const nlohmann::json own = it != alert.end() && it->is_object() ? *it : nlohmann::json::object();
      if (i == 0) {
        common = own;
        continue;
      }
      for (auto c = common.begin(); c != common.end();) {
        const auto o = own.find(c.key());
        c = (o == own.end() || *o != c.value()) ? common.erase(c) : std::next(c);
      }
    }
  }
  nlohmann::json group_labels = nlohmann::json::object();
  if (common_labels.contains("alertname")) group_labels["alertname"] = common_labels["alertname"];
  std::string group_key = "{}:{";
  if (group_labels.contains("alertname")) group_key += "alertname=" + group_labels["alertname"].dump();
  group_key += "}";
  const nlohmann::json payload = {
      {"version", "4"},
      {"groupKey", group_key},
      {"truncatedAlerts", 0},
      {"status", firing ? "firing" : "resolved"},
      {"receiver", receiver},
      {"groupLabels", std::move(group_labels)},
      {"commonLabels", std::move(common_labels)},
      {"commonAnnotations", std::move(common_annotations)},
      {"externalURL", ""},
      {"alerts", std::move(alerts)},
  };
  return payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

DeliveryOutcome ClassifyDelivery(const StatusOr<int>& http_status) {
  if (!http_status.ok()) return DeliveryOutcome::kRetry;
  const int code = *http_status;
  if (code >= 200 && code < 300) return DeliveryOutcome::kDelivered;
  if (code == 429 || (code >= 500 && code < 600)) return DeliveryOutcome::kRetry;
  return DeliveryOutcome::kRejected;
}

}  // namespace internal

StatusOr<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) return Status::InvalidArgument("must be an https:// URL");
  for (const char c : url) {
    if (!IsTokenChar(c)) return Status::InvalidArgument("must not contain spaces, control or non-ASCII characters");
  }
  if (url.find('#') != std::string_view::npos) return Status::InvalidArgument("must not have a #fragment");
  std::string_view rest = url.substr(kScheme.size());
  const size_t end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("must not carry credentials (user@); use token_file");
  }
  std::string with_port(authority);
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if ((bracketed && authority.back() == ']') || (!bracketed && authority.find(':') == std::string_view::npos)) {
    with_port += ":443";
  }
  auto endpoint = internal::ParseEndpoint(with_port);
  if (!endpoint.ok()) return endpoint.status();
  WebhookUrl out;
  out.origin = std::string(kScheme) + with_port;
  out.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (out.target.front() == '?') out.target.insert(0, "/");
  return out;
}

StatusOr<std::string> ReadBearerTokenFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::InvalidArgument("cannot open '" + path.string() + "': " + std::strerror(errno));
  struct stat st {};
  std::string token;
  Status status;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    status = Status::InvalidArgument("'" + path.string() + "' is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    status = Status::InvalidArgument("'" + path.string() + "' must be readable by its owner only (chmod 600)");
  } else if (st.st_size > 4096) {
    status = Status::InvalidArgument("'" + path.string() + "' is larger than 4096 bytes");
  } else {
    token.resize(static_cast<size_t>(st.st_size));
    const ssize_t n = ::read(fd, token.data(), token.size());
    if (n != static_cast<ssize_t>(token.size()))
      status = Status::InvalidArgument("cannot read '" + path.string() + "'");
  }
  ::close(fd);
  if (!status.ok()) return status;
  while (!token.empty() &&
         (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) return Status::InvalidArgument("'" + path.string() + "' holds no token");
  for (const char c : token) {
    // A token goes into a header line: no spaces, controls or line breaks.
    if (!IsTokenChar(c))
      return Status::InvalidArgument("'" + path.string() + "' holds characters not allowed in a token");
  }
  return token;
}

StatusOr<std::shared_ptr<WebhookSink>> WebhookSink::Create(WebhookOptions o) {
  AEGIS_ASSIGN_OR_RETURN(WebhookUrl url, ParseWebhookUrl(o.url));
  if (o.batch_size == 0 || o.queue_size == 0)
    return Status::InvalidArgument("batch_size and queue_size must be positive");
  if (o.timeout.count() <= 0) return Status::InvalidArgument("timeout must be positive");
  for (const char c : o.bearer_token) {
    if (!IsTokenChar(c)) return Status::InvalidArgument("the bearer token holds characters not allowed in a header");
  }
  if (!o.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(o.ca_file, ec)) {
      return Status::InvalidArgument("CA file '" + o.ca_file.string() + "' is not a readable file");
    }
  }
  return std::shared_ptr<WebhookSink>(std::make_shared<WebhookSinkImpl>(std::move(o), std::move(url)));
}

}  // namespace aegis::audit

// WebhookSink: URL and token-file rules, the batch body, the retry rules, and
// delivery to a real HTTPS receiver on 127.0.0.1 (the http module's server with a
// scripted dispatcher and the test PKI).
#include "aegis/audit/webhook_sink.h"

#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/http/server.h"
#include "common/testing/scoped_temp_dir.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_pki.h"
#include "common/testing/wait_for.h"
#include "webhook_batch.h"

namespace aegis::audit {
namespace {

using namespace std::chrono_literals;
using ::aegis::testing::WaitFor;
using internal::DeliveryOutcome;

TEST(WebhookUrlTest, HttpsOnlyWithPathAndQueryKept) {
  auto u = ParseWebhookUrl("https://siem.example/ingest/aegis?src=1");
  ASSERT_OK(u);
  EXPECT_EQ(u->origin, "https://siem.example:443");
  EXPECT_EQ(u->target, "/ingest/aegis?src=1");
  u = ParseWebhookUrl("https://127.0.0.1:8088");
  ASSERT_OK(u);
  EXPECT_EQ(u->origin, "https://127.0.0.1:8088");
  EXPECT_EQ(u->target, "/");
  u = ParseWebhookUrl("https://[::1]:9000?x");
  ASSERT_OK(u);
  EXPECT_EQ(u->origin, "https://[::1]:9000");
  EXPECT_EQ(u->target, "/?x");
  for (const char* bad : {"http://siem.example/", "HTTPS://x/", "ftp://x", "https://", "https://user:pw@x/",
                          "https://x/a b", "https://x/#frag", "https://x:0/", "https://x:99999/", "https://x/\r\n"}) {
    EXPECT_FALSE(ParseWebhookUrl(bad).ok()) << bad;
  }
}

TEST(WebhookRetryTest, RetriesNoAnswer5xxAnd429Only) {
  EXPECT_EQ(internal::ClassifyDelivery(Status::Unavailable("refused")), DeliveryOutcome::kRetry);
  for (int code : {200, 201, 202, 204}) EXPECT_EQ(internal::ClassifyDelivery(code), DeliveryOutcome::kDelivered);
  for (int code : {429, 500, 502, 503, 504}) EXPECT_EQ(internal::ClassifyDelivery(code), DeliveryOutcome::kRetry);
  for (int code : {100, 301, 302, 400, 401, 403, 404, 413, 422}) {
    EXPECT_EQ(internal::ClassifyDelivery(code), DeliveryOutcome::kRejected) << code;
  }
}

TEST(WebhookBatchTest, EventsAndHeadsInTheirOwnArrays) {
  const std::vector<internal::SinkItem> items = {
      {false, R"({"a":1})"}, {true, R"({"tree_size":1})"}, {false, R"({"a":2})"}};
  const auto j = nlohmann::json::parse(internal::BuildWebhookBatch(items));
  EXPECT_EQ(j, nlohmann::json::parse(R"({"events":[{"a":1},{"a":2}],"heads":[{"tree_size":1}]})"));
  EXPECT_EQ(internal::BuildWebhookBatch({}), R"({"events":[],"heads":[]})");
}

TEST(AlertmanagerPayload, IsVersionFourWithWhatItsAlertsShare) {
  const std::string a =
      R"({"status":"firing","labels":{"alertname":"extraction","severity":"high","incident":"1"},)"
      R"("annotations":{"summary":"s1"},"startsAt":"t","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f1"})";
  const std::string b = R"({"status":"resolved","labels":{"alertname":"extraction","severity":"low","incident":"2"},)"
                        R"("annotations":{"summary":"s1"},"startsAt":"t","endsAt":"u","fingerprint":"f2"})";
  std::vector<internal::SinkItem> items;
  items.push_back({false, a});
  items.push_back({false, b});
  items.push_back({false, "not json"});
  const auto j = nlohmann::json::parse(internal::BuildAlertmanagerPayload(items, "sec-team"));
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["receiver"], "sec-team");
  EXPECT_EQ(j["status"], "firing") << "firing while any alert fires";
  EXPECT_EQ(j["groupLabels"], nlohmann::json({{"alertname", "extraction"}}));
  EXPECT_EQ(j["groupKey"], R"({}:{alertname="extraction"})");
  EXPECT_EQ(j["commonLabels"], nlohmann::json({{"alertname", "extraction"}}));
  EXPECT_EQ(j["commonAnnotations"], nlohmann::json({{"summary", "s1"}}));
  ASSERT_EQ(j["alerts"].size(), 2u) << "what is not an alert object is left out";
  EXPECT_EQ(j["alerts"][1]["fingerprint"], "f2");
  EXPECT_EQ(j["truncatedAlerts"], 0);
  items.erase(items.begin());
  EXPECT_EQ(nlohmann::json::parse(internal::BuildAlertmanagerPayload(items, "r"))["status"], "resolved");
}

class TokenFileTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& content, mode_t mode) {
    auto p = tmp_.path() / ("token" + std::to_string(n_++));
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  testing::ScopedTempDir tmp_;
  int n_ = 0;
};

TEST_F(TokenFileTest, OwnerOnlyFileTrimmedOfTrailingNewline) {
  auto t = ReadBearerTokenFile(Write("s3cr3t-token_~+/=\n", 0600));
  ASSERT_OK(t);
  EXPECT_EQ(*t, "s3cr3t-token_~+/=");
  EXPECT_OK(ReadBearerTokenFile(Write("x", 0400)));
}

TEST_F(TokenFileTest, RefusesFilesOthersCanReadAndTokensThatCouldInjectHeaders) {
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    auto t = ReadBearerTokenFile(Write("tok", mode));
    ASSERT_FALSE(t.ok()) << std::oct << mode;
    EXPECT_NE(t.status().message().find("chmod 600"), std::string::npos);
  }
  EXPECT_FALSE(ReadBearerTokenFile(Write("tok\r\nX-Evil: 1", 0600)).ok());
  EXPECT_FALSE(ReadBearerTokenFile(Write("two words", 0600)).ok());
  EXPECT_FALSE(ReadBearerTokenFile(Write("\n", 0600)).ok());
  EXPECT_FALSE(ReadBearerTokenFile(Write(std::string(5000, 'a'), 0600)).ok());
  EXPECT_FALSE(ReadBearerTokenFile(tmp_.path() / "missing").ok());
  const auto target = Write("tok", 0600);
  const auto link = tmp_.path() / "link";
  std::filesystem::create_symlink(target, link);
  EXPECT_FALSE(ReadBearerTokenFile(link).ok());
}

// Answers POST /hook with the next scripted status (200 when the script is empty)
// and records every request.
class ScriptedReceiver : public http::Dispatcher {
 public:
  struct Received {
    int status;
    std::string authorization, content_type, body;
  };

  explicit ScriptedReceiver(std::deque<int> script)
      : script_(std::move(script)), server_(http::ServerOptions{1, 1, 2s}) {
    const auto& pki = aegis::testing::TestPki::Get();
    const Status s = server_.AddListener(http::ListenerKind::kData, "127.0.0.1:0", {pki.server_cert, pki.server_key},
                                         http::Limits{}, this);
    EXPECT_OK(s);
    runner_ = std::thread([this] { server_.Run(); });
  }
  ~ScriptedReceiver() override {
    server_.Stop();
    runner_.join();
  }
  std::string url() const {
    return "https://127.0.0.1:" + std::to_string(server_.BoundPort(http::ListenerKind::kData)) + "/hook?k=v";
  }

  http::Plan Begin(const http::RequestHead& head) override {
    http::Plan plan;
    const std::string auth(head.Header("authorization").value_or(""));
    const std::string type(head.Header("content-type").value_or(""));
    if (head.method != "POST" || head.path != "/hook" || head.query != "k=v") {
      plan.immediate = http::Response::Error(404, "wrong target");
      return plan;
    }
    plan.handler = [this, auth, type](http::Request& r) {
      std::lock_guard lock(mu_);
      int status = 200;
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      }
      received_.push_back({status, auth, type, r.body});
      return http::Response::Json(status, "{}");
    };
    return plan;
  }
  void OnRejected(const http::RequestHead&, int, std::string_view) override {}

  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  std::mutex mu_;
  std::deque<int> script_;
  std::vector<Received> received_;
  http::HttpsServer server_;
  std::thread runner_;
};

WebhookOptions Options(const std::string& url) {
  WebhookOptions o;
  o.url = url;
  o.ca_file = aegis::testing::TestPki::Get().ca_cert;
  o.bearer_token = "tok123";
  o.batch_size = 3;
  o.batch_delay = 50ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  o.stop_drain = 500ms;
  o.timeout = 5s;
  return o;
}

std::string Event(int i) { return R"({"action":"infer","i":)" + std::to_string(i) + "}"; }

std::vector<int> EventIndexes(const std::string& body) {
  std::vector<int> out;
  const auto batch = nlohmann::json::parse(body);
  for (const auto& e : batch["events"]) out.push_back(e["i"].get<int>());
  return out;
}

TEST(WebhookSinkTest, PostsBatchesOfAtMostBatchSizeWithTheBearerToken) {
  ScriptedReceiver rx({});
  auto sink = WebhookSink::Create(Options(rx.url()));
  ASSERT_OK(sink);
  for (int i = 0; i < 7; ++i) (*sink)->Offer(Event(i));
  (*sink)->OfferHead(R"({"tree_size":7})");
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().delivered == 8; }));
  std::vector<int> all;
  int heads = 0;
  for (const auto& r : rx.received()) {
    EXPECT_EQ(r.authorization, "Bearer tok123");
    EXPECT_EQ(r.content_type, "application/json");
    const auto j = nlohmann::json::parse(r.body);
    EXPECT_LE(j["events"].size() + j["heads"].size(), 3u);
    heads += static_cast<int>(j["heads"].size());
    for (int i : EventIndexes(r.body)) all.push_back(i);
  }
  EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(heads, 1);
  (*sink)->Stop();
  EXPECT_EQ((*sink)->Stats().failures, 0u);
}

TEST(WebhookSinkTest, RetriesTheSameBatchAfter503And429) {
  ScriptedReceiver rx({503, 429, 200});
  auto sink = WebhookSink::Create(Options(rx.url()));
  ASSERT_OK(sink);
  for (int i = 0; i < 3; ++i) (*sink)->Offer(Event(i));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().delivered == 3; }));
  const auto got = rx.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].status, 503);
  EXPECT_EQ(got[1].status, 429);
  EXPECT_EQ(got[2].status, 200);
  EXPECT_EQ(got[0].body, got[2].body);  // the same batch, resent
  EXPECT_EQ(EventIndexes(got[2].body), (std::vector<int>{0, 1, 2}));
  const SinkStats s = (*sink)->Stats();
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.dropped, 0u);
  (*sink)->Stop();
}

TEST(WebhookSinkTest, A4xxDropsTheBatchWithoutRetryAndGoesOn) {
  ScriptedReceiver rx({400});
  std::atomic<uint64_t> reported{0};
  auto o = Options(rx.url());
  o.on_drop = [&](uint64_t n) { reported += n; };
  auto sink = WebhookSink::Create(o);
  ASSERT_OK(sink);
  for (int i = 0; i < 3; ++i) (*sink)->Offer(Event(i));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().dropped == 3; }));
  for (int i = 3; i < 5; ++i) (*sink)->Offer(Event(i));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().delivered == 2; }));
  const auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);  // the refused batch was not sent again
  EXPECT_EQ(EventIndexes(got[1].body), (std::vector<int>{3, 4}));
  EXPECT_EQ((*sink)->Stats().failures, 1u);
  EXPECT_TRUE(WaitFor([&] { return reported.load() == 3; }));
  (*sink)->Stop();
}

TEST(WebhookSinkTest, ReceiverDownQueueBoundedDropsCountedReportedAndStopIsBounded) {
  std::string url;
  {
    ScriptedReceiver gone({});
    url = gone.url();
  }  // nothing listens there any more
  std::mutex mu;
  std::vector<uint64_t> reports;
  auto o = Options(url);
  o.queue_size = 4;
  o.batch_size = 2;
  o.on_drop = [&](uint64_t n) {
    std::lock_guard lock(mu);
    reports.push_back(n);
  };
  auto sink = WebhookSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(0));
  (*sink)->Offer(Event(1));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().failures >= 2; }));
  for (int i = 2; i < 12; ++i) (*sink)->Offer(Event(i));
  EXPECT_EQ((*sink)->Stats().dropped, 6u);  // 2 in hand, 4 queued, 6 dropped
  EXPECT_EQ((*sink)->Stats().queued, 6u);
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return !reports.empty() && reports.front() == 6;
  }));
  const auto start = std::chrono::steady_clock::now();
  (*sink)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ((*sink)->Stats().dropped, 12u);
  EXPECT_EQ((*sink)->Stats().delivered, 0u);
}

TEST(WebhookSinkTest, AnUntrustedReceiverIsNotSentTheBatch) {
  ScriptedReceiver rx({});
  auto o = Options(rx.url());
  o.ca_file = aegis::testing::TestPki::Get().foreign_ca_cert;
  auto sink = WebhookSink::Create(o);
  ASSERT_OK(sink);
  (*sink)->Offer(Event(0));
  ASSERT_TRUE(WaitFor([&] { return (*sink)->Stats().failures >= 2; }));
  EXPECT_TRUE(rx.received().empty());
  (*sink)->Stop();
}

TEST(WebhookSinkTest, StopDeliversWhatIsQueued) {
  ScriptedReceiver rx({});
  auto o = Options(rx.url());
  o.batch_delay = 10s;  // a batch would wait long; Stop must not
  o.batch_size = 100;
  auto sink = WebhookSink::Create(o);
  ASSERT_OK(sink);
  for (int i = 0; i < 5; ++i) (*sink)->Offer(Event(i));
  (*sink)->Stop();
  EXPECT_EQ((*sink)->Stats().delivered, 5u);
  ASSERT_EQ(rx.received().size(), 1u);
}

}  // namespace
}  // namespace aegis::audit

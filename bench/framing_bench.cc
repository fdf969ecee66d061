// What the request-framing checks (src/http/internal/framing.h, issue 13) add to one
// request, in process: FindHeadEnd + CheckHeadBytes on the raw head and
// CheckFraming on the parsed one, beside Beast's own parse of the same head
// for scale. Two heads: the benchmark's inference request (5 fields) and a
// browser-like one (14 fields). Prints one JSON object of medians of repeated
// batches, in nanoseconds per request.
//
//   build/release/bench/framing_bench [batches=15]
#include "http/internal/framing.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

namespace {

namespace bhttp = boost::beast::http;
using Steady = std::chrono::steady_clock;
using namespace aegis::http::internal;
constexpr int kPerBatch = 100'000;

const std::string kInfer =
    "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: 127.0.0.1:8443\r\nContent-Type: application/json\r\n"
    "Authorization: Bearer aegis_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
    "Content-Length: 82\r\nUser-Agent: wrk\r\n\r\n";
const std::string kBrowser =
    "GET /dashboard/api/series HTTP/1.1\r\nHost: aegis.example:9443\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    "Accept: application/json\r\nAccept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://aegis.example:9443/dashboard\r\nCookie: aegis_session=0123456789abcdef0123456789abcdef\r\n"
    "Connection: keep-alive\r\nSec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\nCache-Control: no-cache\r\n\r\n";

template <typename F>
double NanosPer(F&& f) {
  const auto start = Steady::now();
  for (int i = 0; i < kPerBatch; ++i) f();
  return std::chrono::duration<double, std::nano>(Steady::now() - start).count() / kPerBatch;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

volatile size_t sink;  // keeps the work from being optimized away

struct Result {
  double checks, parse;
};

Result Measure(const std::string& head, int batches) {
  bhttp::request_parser<bhttp::empty_body> parsed;
  boost::beast::error_code ec;
  parsed.put(boost::asio::buffer(head), ec);
  if (ec || FindHeadEnd(head, 0) != head.size() || CheckHeadBytes(head) || CheckFraming(parsed.get())) {
    std::fprintf(stderr, "framing_bench: the sample head is refused\n");
    std::exit(1);
  }
  std::vector<double> checks, parse;
  for (int b = 0; b < batches; ++b) {
    checks.push_back(NanosPer([&] {
      const size_t end = FindHeadEnd(head, 0);
      sink =
          end + (CheckHeadBytes(std::string_view(head).substr(0, end)) ? 1 : 0) + (CheckFraming(parsed.get()) ? 1 : 0);
    }));
    parse.push_back(NanosPer([&] {
      bhttp::request_parser<bhttp::empty_body> p;
      boost::beast::error_code e;
      sink = p.put(boost::asio::buffer(head), e);
    }));
  }
  return {Median(checks), Median(parse)};
}

}  // namespace

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  const Result infer = Measure(kInfer, batches);
  const Result browser = Measure(kBrowser, batches);
  std::printf(
      "{\"batches\": %d, \"per_batch\": %d, \"unit\": \"ns per request, median\",\n"
      " \"infer_head\": {\"bytes\": %zu, \"framing_checks\": %.1f, \"beast_parse\": %.1f},\n"
      " \"browser_head\": {\"bytes\": %zu, \"framing_checks\": %.1f, \"beast_parse\": %.1f}}\n",
      batches, kPerBatch, kInfer.size(), infer.checks, infer.parse, kBrowser.size(), browser.checks, browser.parse);
  return 0;
}

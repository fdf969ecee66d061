// `aegis audit show|export`: read the audit log through a running server (each
// read is itself audited), and the wiring of the offline commands.
#include <cstdio>
#include <deque>
#include <iostream>
#include <optional>

#include "aegis/common/clock.h"
#include "audit_format.h"
#include "client_options.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr int kPageSize = 5000;

// "--since": RFC 3339, or a duration back from now ("90s", "15m", "12h", "7d").
std::string SinceArgument(const std::string& text) {
  if (auto t = ParseRfc3339(text)) return FormatRfc3339(*t);
  if (text.size() >= 2 && text.size() <= 8) {
    const char unit = text.back();
    const std::string digits = text.substr(0, text.size() - 1);
    const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
    if (scale > 0 && digits.find_first_not_of("0123456789") == std::string::npos) {
      const auto back = std::chrono::seconds(std::stoll(digits) * scale);
      return FormatRfc3339(std::chrono::system_clock::now() - back);
    }
  }
  throw CommandError("--since must be an RFC 3339 time (2026-12-04T10:00:00Z) or a duration (90s, 15m, 12h, 7d)");
}

nlohmann::json Page(http::HttpsClient& client, const std::string& query) {
  return ExpectJson(Check(client.Request("GET", "/v1/audit?" + query), "reading the audit log failed"));
}

// The REASON column: the event's reason, or what a summary event counted.
std::string Detail(const nlohmann::json& e) {
  const auto summary = e.find("summary");
  if (summary == e.end() || !summary->is_object()) return e.value("reason", "");
  const nlohmann::json latency = summary->value("latency_us", nlohmann::json::object());
  std::string out = std::to_string(summary->value("count", 0ull)) + " requests in " +
                    std::to_string(summary->value("window_ms", 0ll)) + " ms;";
  const nlohmann::json statuses = summary->value("statuses", nlohmann::json::object());
  for (const auto& [status, count] : statuses.items()) {
    out += " " + std::to_string(count.is_number_unsigned() ? count.get<uint64_t>() : 0) + "x" + status;
  }
  for (const char* q : {"p50", "p90", "p99", "max"}) {
    out += std::string(" ") + q + " " + std::to_string(latency.value(q, 0ll)) + "us";
  }
  return out;
}

void PrintTable(const nlohmann::json& events) {
  std::printf("%-27s %-7s %-14s %-18s %-34s %-8s %-6s %-21s %s\n", "TIME", "SEQ", "PRINCIPAL", "ACTION", "RESOURCE",
              "DECISION", "STATUS", "REMOTE", "REASON");
  for (const auto& e : events) {
    std::printf("%-27s %-7s %-14s %-18s %-34s %-8s %-6d %-21s %s\n", e.value("time", "").c_str(),
                std::to_string(e.value("seq", 0ull)).c_str(), e.value("principal", "").c_str(),
                e.value("action", "").c_str(), e.value("resource", "").c_str(), e.value("decision", "").c_str(),
                e.value("status", 0), e.value("remote", "").c_str(), Detail(e).c_str());
  }
}

// Without --since the server gives the newest `limit` events. With it, the
// server pages forward from that time; every page is read and the newest
// `limit` kept, so a limit cuts the old end, as it does without --since.
void RunShow(const ClientFlags& flags, int limit, const std::string& since, bool json) {
  if (limit < 1 || limit > 10000) throw CommandError("--limit must be between 1 and 10000");
  auto client = ConnectClient(flags);
  nlohmann::json events = nlohmann::json::array();
  uint64_t matched = 0;
  if (since.empty()) {
    events = Page(*client, "limit=" + std::to_string(limit)).value("events", nlohmann::json::array());
    matched = events.size();
  } else {
    const std::string from = EncodePathSegment(SinceArgument(since));
    std::deque<nlohmann::json> newest;
    std::optional<uint64_t> next;
    do {
      std::string query = "limit=" + std::to_string(kPageSize) + "&since=" + from;
      if (next) query += "&from_seq=" + std::to_string(*next);
      auto body = Page(*client, query);
      for (auto& e : body.value("events", nlohmann::json::array())) {
        ++matched;
        newest.push_back(std::move(e));
        if (newest.size() > static_cast<size_t>(limit)) newest.pop_front();
      }
      next.reset();
      if (body.contains("next_seq") && body["next_seq"].is_number_unsigned()) next = body["next_seq"].get<uint64_t>();
    } while (next);
    for (auto& e : newest) events.push_back(std::move(e));
  }
  const uint64_t left_out = matched - events.size();
  if (json) {
    std::cout << nlohmann::json{{"events", events}, {"left_out", left_out}}.dump() << std::endl;
    return;
  }
  PrintTable(events);
  if (left_out > 0) {
    std::fprintf(stderr, "showing the newest %zu of %llu events since %s; raise --limit for older ones\n",
                 events.size(), static_cast<unsigned long long>(matched), since.c_str());
  }
}

void RunExport(const ClientFlags& flags, const std::string& since, const std::string& format) {
  if (format != "jsonl" && format != "cef") throw CommandError("--format must be jsonl or cef");
  const std::string from = EncodePathSegment(SinceArgument(since));
  auto client = ConnectClient(flags);
  std::optional<uint64_t> next;
  uint64_t exported = 0;
  do {
    std::string query = "limit=" + std::to_string(kPageSize) + "&since=" + from;
    if (next) query += "&from_seq=" + std::to_string(*next);
    auto body = Page(*client, query);
    for (const auto& e : body.value("events", nlohmann::json::array())) {
      std::cout << (format == "cef" ? internal::EventToCef(e) : e.dump()) << '\n';
      ++exported;
    }
    next.reset();
    if (body.contains("next_seq") && body["next_seq"].is_number_unsigned()) next = body["next_seq"].get<uint64_t>();
  } while (next);
  std::cout.flush();
  if (!std::cout) throw CommandError("cannot write the export to standard output");
  std::fprintf(stderr, "exported %llu events\n", static_cast<unsigned long long>(exported));
}

}  // namespace

void RegisterAuditCommands(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "Read, export and verify the tamper-evident audit log");
  audit->require_subcommand(1);

  auto flags = std::make_shared<ClientFlags>();
  auto limit = std::make_shared<int>(50);
  auto since = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* show = audit->add_subcommand(
      "show", "Show the newest audit events (printed oldest first, with their reasons), from a running server");
  show->add_option("--limit", *limit, "How many of the newest events (1-10000)")->capture_default_str();
  show->add_option("--since", *since, "Only events at or after this RFC 3339 time or duration ago (15m, 2h, 7d)");
  AddJsonFlag(show, *json);
  AddClientFlags(show, *flags);
  show->callback([flags, limit, since, json] { RunShow(*flags, *limit, *since, *json); });

  auto export_flags = std::make_shared<ClientFlags>();
  auto export_since = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("jsonl");
  CLI::App* exp =
      audit->add_subcommand("export", "Export audit events for a SIEM (JSON lines or ArcSight CEF) to stdout");
  exp->add_option("--since", *export_since, "RFC 3339 time or duration ago (15m, 2h, 7d)")->required();
  exp->add_option("--format", *format, "jsonl or cef")->capture_default_str();
  AddClientFlags(exp, *export_flags);
  exp->callback([export_flags, export_since, format] { RunExport(*export_flags, *export_since, *format); });

  RegisterAuditOfflineCommands(*audit);
}

}  // namespace aegis::cli

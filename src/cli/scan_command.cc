// `aegis scan PATH [--json]`: static checks of a model file (or of every file in a
// folder) before any engine parses it. Offline: no server involved.
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "aegis/scan/scanner.h"
#include "commands.h"

namespace aegis::cli {
namespace {

constexpr const char* kScanHelp =
    "Scan a model file, or every file of a folder, without loading it.\n"
    "The format is decided from the content, never from the file name.\n"
    "Exit status: 0 every file clean; 1 findings (do not load); 2 could not scan\n"
    "(a folder: 1 if any file has findings, else 2 if any file could not be scanned).\n"
    "--json prints one object per file, {\"path\", \"format\", \"clean\", \"findings\":\n"
    "[{\"severity\", \"location\", \"reason\", \"callable\"}]} plus \"error\" when the file\n"
    "could not be scanned (then \"format\" is null); for a folder, an array of them.";

// Paths come from the filesystem and may hold anything: keep the terminal safe.
std::string Shown(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

std::string Summary(const scan::ScanReport& report) {
  if (report.clean()) return std::string(scan::FormatName(report.format)) + ", clean";
  std::map<scan::Severity, int, std::greater<>> counts;
  for (const auto& f : report.findings) ++counts[f.severity];
  std::string out = std::string(scan::FormatName(report.format)) + ", " + std::to_string(report.findings.size()) +
                    (report.findings.size() == 1 ? " finding (" : " findings (");
  bool first = true;
  for (const auto& [severity, count] : counts) {
    out += (first ? "" : ", ") + std::to_string(count) + " " + std::string(scan::SeverityName(severity));
    first = false;
  }
  return out + ")";
}

nlohmann::ordered_json ToJson(const std::string& path, const scan::PathReport& r) {
  nlohmann::ordered_json out = {{"path", path}};
  if (!r.report.ok()) {
    out["format"] = nullptr;
    out["clean"] = false;
    out["error"] = r.report.status().message();
    out["findings"] = nlohmann::ordered_json::array();
    return out;
  }
  out["format"] = scan::FormatName(r.report->format);
  out["clean"] = r.report->clean();
  out["findings"] = nlohmann::ordered_json::array();
  for (const auto& f : r.report->findings) {
    out["findings"].push_back({{"severity", scan::SeverityName(f.severity)},
                               {"location", f.location},
                               {"reason", f.reason},
                               {"callable", f.callable}});
  }
  return out;
}

void RunScan(const std::string& target, bool json) {
  auto scanned = scan::ScanPath(target);
  if (!scanned.ok()) throw CommandError("could not scan " + Shown(target) + ": " + scanned.status().message(), 2);
  const bool folder = scanned->size() != 1 || !(*scanned)[0].path.empty();
  size_t with_findings = 0, failed = 0, finding_count = 0;
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const scan::PathReport& r : *scanned) {
    std::string path = r.path.empty() ? target : (std::filesystem::path(target) / r.path).string();
    if (!r.report.ok()) {
      ++failed;
    } else if (!r.report->clean()) {
      ++with_findings;
      finding_count += r.report->findings.size();
    }
    if (json) {
      all.push_back(ToJson(path, r));
      continue;
    }
    if (!r.report.ok()) {
      std::printf("ERROR     %s: could not scan: %s\n", Shown(path).c_str(),
                  Shown(r.report.status().message()).c_str());
      continue;
    }
    for (const auto& f : r.report->findings) {
      std::string where = f.location.empty() ? "" : Shown(f.location) + ": ";
      std::printf("%-9s %s%s\n", Upper(scan::SeverityName(f.severity)).c_str(), where.c_str(), Shown(f.reason).c_str());
    }
    std::printf("%s: %s\n", Shown(path).c_str(), Summary(*r.report).c_str());
  }
  if (json) {
    const auto& doc = folder ? all : all.at(0);
    std::cout << doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << std::endl;
  } else if (folder) {
    std::printf("%zu files: %zu clean, %zu with findings, %zu could not be scanned\n", scanned->size(),
                scanned->size() - with_findings - failed, with_findings, failed);
  }
  std::fflush(stdout);
  if (with_findings > 0) {
    throw CommandError(std::to_string(finding_count) + (finding_count == 1 ? " finding in " : " findings in ") +
                           Shown(target) + ": do not load",
                       1);
  }
  if (failed > 0) {
    if (!folder)
      throw CommandError("could not scan " + Shown(target) + ": " + (*scanned)[0].report.status().message(), 2);
    throw CommandError(std::to_string(failed) + " file(s) in " + Shown(target) + " could not be scanned", 2);
  }
}

}  // namespace

void RegisterScan(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("scan", kScanHelp);
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("PATH", *path, "Model file or folder to scan")->required();
  AddJsonFlag(cmd, *json);
  cmd->callback([path, json] { RunScan(*path, *json); });
}

}  // namespace aegis::cli

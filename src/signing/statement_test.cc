// The in-toto statement parser on its own (no signature): every shape other
// OMS implementations write is accepted, every malformed one refused.
#include "statement.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/crypto/encoding.h"
#include "aegis/signing/bundle.h"
#include "common/testing/status_matchers.h"
#include "manifest_rules.h"

namespace aegis::signing {
namespace {

using internal::ParseStatement;
using Json = nlohmann::json;  // sorted keys: a different order from ours

Manifest Sample(SerializationMethod method = SerializationMethod::kFiles) {
  Manifest m;
  m.model_name = "fraud";
  m.serialization.method = method;
  m.serialization.ignore_paths = {".git", "model.sig"};
  if (method == SerializationMethod::kShards) {
    m.serialization.shard_size = 1000;
    for (const char* n : {"a.bin:0:1000", "a.bin:1000:1500", "b/c.bin:0:10"}) {
      m.resources.push_back({n, internal::ShardAlgorithm(1000), crypto::Sha256(n)});
    }
  } else {
    for (const char* n : {"a.bin", "b/c.bin", "tokenizer.json"})
      m.resources.push_back({n, "sha256", crypto::Sha256(n)});
  }
  return m;
}

// Recomputes the subject digest after a test edited the resources.
void Resubject(Json& statement) {
  crypto::Sha256Hasher hasher;
  for (const auto& r : statement["predicate"]["resources"]) {
    auto bytes = crypto::HexDecode(r["digest"].get<std::string>());
    if (bytes) hasher.Update(*bytes);
  }
  const auto digest = hasher.Finish();
  statement["subject"][0]["digest"]["sha256"] = crypto::HexEncode(digest);
}

std::string Edited(const std::function<void(Json&)>& edit, bool resubject = true) {
  Json statement = Json::parse(StatementJson(Sample()));
  edit(statement);
  if (resubject) Resubject(statement);
  return statement.dump();
}

TEST(Statement, RoundTripsFilesAndShards) {
  for (auto method : {SerializationMethod::kFiles, SerializationMethod::kShards}) {
    const Manifest m = Sample(method);
    auto parsed = ParseStatement(StatementJson(m));
    ASSERT_OK(parsed);
    EXPECT_EQ(parsed->model_name, m.model_name);
    EXPECT_EQ(parsed->serialization.method, method);
    EXPECT_EQ(parsed->serialization.shard_size, m.serialization.shard_size);
    EXPECT_EQ(parsed->serialization.ignore_paths, m.serialization.ignore_paths);
    ASSERT_EQ(parsed->resources.size(), m.resources.size());
    for (size_t i = 0; i < m.resources.size(); ++i) {
      EXPECT_EQ(parsed->resources[i].name, m.resources[i].name);
      EXPECT_EQ(parsed->resources[i].algorithm, m.resources[i].algorithm);
      EXPECT_EQ(parsed->resources[i].digest, m.resources[i].digest);
    }
  }
}

TEST(Statement, WritesTheOmsShape) {
  const Json s = Json::parse(StatementJson(Sample(SerializationMethod::kShards)));
  EXPECT_EQ(s["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(s["predicateType"], "https://model_signing/signature/v1.0");
  EXPECT_EQ(s["subject"][0]["name"], "fraud");
  const Json& ser = s["predicate"]["serialization"];
  EXPECT_EQ(ser, Json::parse(R"({"method":"shards","hash_type":"sha256","shard_size":1000,"allow_symlinks":false,
                                 "ignore_paths":[".git","model.sig"]})"));
  EXPECT_EQ(s["predicate"]["resources"][0]["algorithm"], "sha256-sharded-1000");
  EXPECT_FALSE(Json::parse(StatementJson(Sample()))["predicate"]["serialization"].contains("shard_size"));
}

TEST(Statement, AcceptsOtherWritersConventions) {
  // Pretty-printed with sorted keys, unknown fields, shard_size as a float.
  Json s = Json::parse(StatementJson(Sample(SerializationMethod::kShards)));
  s["predicate"]["serialization"]["shard_size"] = 1000.0;
  s["predicate"]["extension"] = {{"model_card", "x"}};
  s["predicate"]["resources"][0]["annotations"] = {{"k", "v"}};
  EXPECT_OK(ParseStatement(s.dump(4)));
  // 1e3 written as an exponent; "sha256-sharded-N" as the hash_type (model_signing 1.0.0).
  std::string text = s.dump();
  text.replace(text.find("1000.0"), 6, "1e3");
  s = Json::parse(text);
  s["predicate"]["serialization"]["hash_type"] = "sha256-sharded-1000";
  auto legacy = ParseStatement(s.dump());
  ASSERT_OK(legacy);
  EXPECT_EQ(legacy->serialization.hash_type, "sha256");
  // No ignore_paths (before model_signing 1.1); ".git/" spelled with a slash.
  EXPECT_OK(ParseStatement(Edited([](Json& j) { j["predicate"]["serialization"].erase("ignore_paths"); })));
  auto slash = ParseStatement(Edited([](Json& j) { j["predicate"]["serialization"]["ignore_paths"] = {".git/"}; }));
  ASSERT_OK(slash);
  EXPECT_EQ(slash->serialization.ignore_paths, std::vector<std::string>{".git"});
  // model_signing (Python) order: path components first.
  EXPECT_OK(ParseStatement(Edited([](Json& j) {
    auto& r = j["predicate"]["resources"];
    r = Json::array({r[1], r[2], r[0]});
    r[0]["name"] = "tok/vocab";
    r[1]["name"] = "tok.json";
    r[2]["name"] = "tok0";
  })));
  // Older single-file signatures name the file ".".
  EXPECT_OK(ParseStatement(Edited([](Json& j) {
    auto& r = j["predicate"]["resources"];
    r = Json::array({r[0]});
    r[0]["name"] = ".";
  })));
}

struct Refusal {
  const char* what;
  std::function<void(Json&)> edit;
  const char* message;
};

TEST(Statement, RefusesMalformedStatements) {
  const std::vector<Refusal> refusals = {
      {"type", [](Json& j) { j["_type"] = "https://in-toto.io/Statement/v0.1"; },
       "statement _type must be https://in-toto.io/Statement/v1"},
      {"predicate", [](Json& j) { j["predicateType"] = "https://model_signing/Digests/v0.1"; },
       "predicateType must be https://model_signing/signature/v1.0"},
      {"method", [](Json& j) { j["predicate"]["serialization"]["method"] = "digest"; },
       "unsupported serialization method 'digest'"},
      {"hash", [](Json& j) { j["predicate"]["serialization"]["hash_type"] = "blake2"; },
       "unsupported hash_type 'blake2'"},
      {"symlinks", [](Json& j) { j["predicate"]["serialization"]["allow_symlinks"] = "false"; },
       "serialization.allow_symlinks must be a boolean"},
      {"two subjects", [](Json& j) { j["subject"].push_back(j["subject"][0]); },
       "statement must have exactly one subject"},
      {"no resources", [](Json& j) { j["predicate"]["resources"] = Json::array(); }, "the manifest has no resources"},
      {"duplicate", [](Json& j) { j["predicate"]["resources"][1] = j["predicate"]["resources"][0]; },
       "duplicate resource name 'a.bin'"},
      {"unsorted", [](Json& j) { std::swap(j["predicate"]["resources"][0], j["predicate"]["resources"][2]); },
       "resources are not sorted"},
      {"dotdot", [](Json& j) { j["predicate"]["resources"][0]["name"] = "../etc/passwd"; },
       "resource name '../etc/passwd' is not a safe relative path"},
      {"absolute", [](Json& j) { j["predicate"]["resources"][0]["name"] = "/etc/passwd"; },
       "resource name '/etc/passwd' is not a safe relative path"},
      {"backslash", [](Json& j) { j["predicate"]["resources"][0]["name"] = "a\\..\\b"; },
       "resource name 'a\\..\\b' is not a safe relative path"},
      {"nul", [](Json& j) { j["predicate"]["resources"][0]["name"] = std::string("a\0b", 3); },
       "resource name 'a?b' is not a safe relative path"},
      {"empty", [](Json& j) { j["predicate"]["resources"][0]["name"] = ""; },
       "resource name '' is not a safe relative path"},
      {"dot component", [](Json& j) { j["predicate"]["resources"][0]["name"] = "a/./b"; },
       "resource name 'a/./b' is not a safe relative path"},
      {"short digest", [](Json& j) { j["predicate"]["resources"][0]["digest"] = std::string(63, 'a'); },
       "resource digest must be 64 lowercase hex characters"},
      {"upper digest", [](Json& j) { j["predicate"]["resources"][0]["digest"] = std::string(64, 'A'); },
       "resource digest must be 64 lowercase hex characters"},
      {"algorithm", [](Json& j) { j["predicate"]["resources"][0]["algorithm"] = "md5"; },
       "unsupported resource algorithm 'md5'"},
      {"ignore path", [](Json& j) { j["predicate"]["serialization"]["ignore_paths"] = {"/etc"}; },
       "ignore path '/etc' is not a safe relative path"},
      {"subject name", [](Json& j) { j["subject"][0]["name"] = "\x1b]0;pwned\x07"; },
       "the subject name must be non-empty printable text"},
  };
  for (const Refusal& r : refusals) {
    auto parsed = ParseStatement(Edited(r.edit));
    EXPECT_STATUS_IS(parsed, StatusCode::kInvalidArgument) << r.what;
    EXPECT_EQ(parsed.status().message(), r.message) << r.what;
  }
}

TEST(Statement, RefusesBadNumbersAndSubjectMismatch) {
  for (const Json& size : {Json(0), Json(-1000), Json(1000.5), Json("1000"), Json(1e300)}) {
    Json s = Json::parse(StatementJson(Sample(SerializationMethod::kShards)));
    s["predicate"]["serialization"]["shard_size"] = size;
    EXPECT_FALSE(ParseStatement(s.dump()).ok()) << size.dump();
  }
  const auto mismatch = ParseStatement(Edited([](Json& j) { j["predicate"]["resources"].erase(1); }, false));
  EXPECT_EQ(mismatch.status().message(), "subject digest does not match the resources");
}

TEST(Statement, RefusesDuplicateKeysDeepNestingAndNonJson) {
  std::string text = StatementJson(Sample());
  std::string dup = text;
  dup.insert(1, "\"_type\":\"https://example/other\",");
  EXPECT_EQ(ParseStatement(dup).status().message(), "statement: duplicate key \"_type\"");
  Json deep = 1;
  for (int i = 0; i < 40; ++i) deep = Json::array({deep});
  Json s = Json::parse(text);
  s["predicate"]["extension"] = deep;
  EXPECT_EQ(ParseStatement(s.dump()).status().message(), "statement is nested too deeply");
  EXPECT_EQ(ParseStatement("{\"_type\": ").status().message(), "statement is not valid JSON");
  EXPECT_EQ(ParseStatement("[]").status().message(), "statement must be a JSON object");
}

}  // namespace
}  // namespace aegis::signing

// Test support for the api module: real services on a temporary data directory
// (KEK, SQLite store, registry, tokens, users, audit log; no monitor, no
// network), request heads, and a way to run a plan as the server would.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aegis/api/services.h"
#include "aegis/audit/audit_log.h"
#include "aegis/auth/authenticator.h"
#include "aegis/keys/key_provider.h"
#include "aegis/registry/registry.h"
#include "aegis/store/metadata_store.h"
#include "common/testing/scoped_temp_dir.h"

namespace aegis::api::testing {

class ApiTestEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::filesystem::path& dir = tmp_.path();
    std::filesystem::create_directories(dir / "blobs");
    kek_ = std::move(keys::LocalKeyProvider::Create(dir / "keys", std::nullopt)).value();
    store_ = std::move(store::MetadataStore::Open(dir / "aegis.db")).value();
    audit::AuditLogOptions audit_options;
    audit_options.dir = dir / "audit";
    audit_options.signing_key_file = dir / "keys" / "audit-signing.key";
    audit_options.kek = kek_.get();
    audit_options.verify_interval = std::chrono::seconds(0);
    audit_ = std::move(audit::AuditLog::Open(audit_options)).value();
    tokens_ = std::move(auth::TokenAuthenticator::Create(store_.get(), Clock::Real())).value();
    users_ = std::move(auth::UserDirectory::Create(store_.get(), kek_.get(), Clock::Real())).value();
    authenticator_ = std::make_unique<auth::Authenticator>(tokens_.get(), users_.get(), nullptr,
                                                           std::vector<auth::CertificateMapping>{}, Clock::Real());
    // Unsigned pushes are allowed so that tests can serve a model without a PKI.
    registry::RegistryOptions registry_options;
    registry_options.blobs_dir = dir / "blobs";
    // Dispatch is under test, not confinement: engines run in this process.
    registry_options.runtime.isolation = runtime::Isolation::kNone;
    // ONNX Runtime always runs in a worker process (node): OpenCV runs in process.
    registry_options.runtime.onnx_engine = runtime::OnnxEngine::kOpenCv;
    registry_options.runtime.instances = 1;
    registry_options.require_signature = false;
    registry_ =
        std::make_unique<registry::Registry>(std::move(registry_options), store_.get(), kek_.get(), Clock::Real());
    ASSERT_TRUE(registry_->LoadAll().empty());
    services_.registry = registry_.get();
    services_.authenticator = authenticator_.get();
    services_.tokens = tokens_.get();
    services_.users = users_.get();
    services_.audit = audit_.get();
    services_.draining = &draining_;
  }

  // A fresh API token of `role` on `models`.
  std::string Token(const std::string& role, const std::string& models = "*") {
    auto issued = tokens_->Issue({role + "-" + std::to_string(++tokens_issued_), role, models, std::nullopt, "test"});
    EXPECT_TRUE(issued.ok()) << issued.status().message();
    return issued.ok() ? issued->token : "";
  }

  // A head as the server hands it over: `target` split into path and query.
  http::RequestHead Head(std::string method, std::string_view target, const std::optional<std::string>& bearer,
                         http::ListenerKind listener) {
    http::RequestHead head;
    head.method = std::move(method);
    head.target = std::string(target);
    const size_t q = target.find('?');
    head.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) head.query = std::string(target.substr(q + 1));
    if (bearer) head.headers.emplace_back("authorization", "Bearer " + *bearer);
    head.remote_address = "127.0.0.1:40000";
    head.request_id = "req-" + std::to_string(++requests_);
    head.listener = listener;
    return head;
  }

  // Runs `plan` as the server would (the immediate answer, else the handler or
  // the sink with `body`), then ends the request.
  static http::Response Run(http::Plan& plan, const http::RequestHead& head, const std::string& body = "") {
    http::Response response;
    if (plan.immediate) {
      response = *plan.immediate;
    } else if (plan.handler) {
      http::Request request{head, body};
      response = plan.handler(request);
    } else if (plan.async_handler) {
      // The answer may come from another thread (a confined model's driver).
      http::Request request{head, body};
      std::promise<http::Response> answered;
      std::future<http::Response> answer = answered.get_future();
      plan.async_handler(request, http::Reply([&answered](http::Response r) { answered.set_value(std::move(r)); }));
      response = answer.get();
    } else if (plan.sink) {
      EXPECT_TRUE(plan.sink->Write({reinterpret_cast<const uint8_t*>(body.data()), body.size()}).ok());
      response = plan.sink->Finish();
    } else {
      ADD_FAILURE() << "the plan neither answers nor reads the body";
    }
    if (plan.on_complete) {
      plan.on_complete({.status = response.status, .latency = std::chrono::milliseconds(1), .error = response.error});
    }
    return response;
  }

  // The audit log's newest event.
  nlohmann::json LastEvent() {
    auto recent = audit_->Recent(1);
    EXPECT_TRUE(recent.ok() && recent->size() == 1);
    return recent.ok() && !recent->empty() ? nlohmann::json::parse(recent->back()) : nlohmann::json::object();
  }

  static std::string HeaderOf(const http::Response& response, std::string_view name) {
    for (const auto& [k, v] : response.headers) {
      if (k == name) return v;
    }
    return "";
  }

  aegis::testing::ScopedTempDir tmp_;
  std::unique_ptr<keys::LocalKeyProvider> kek_;
  std::unique_ptr<store::MetadataStore> store_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<auth::TokenAuthenticator> tokens_;
  std::unique_ptr<auth::UserDirectory> users_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<registry::Registry> registry_;
  std::atomic<bool> draining_{false};
  Services services_;
  int tokens_issued_ = 0;
  int requests_ = 0;
};

}  // namespace aegis::api::testing

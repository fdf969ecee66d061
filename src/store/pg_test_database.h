// Test support (internal to src/store's tests): a fresh PostgreSQL database per
// test on the server that tests/tools/pg_server.py started for ctest (the
// `postgres` fixture; AEGIS_TEST_PG names its state file). A missing server is
// a test failure, never a skip: the PostgreSQL backend is part of the product.
//
// Thread-safety: none; one per test.
#pragma once

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "aegis/crypto/random.h"

namespace aegis::testing {

class PgTestDatabase {
 public:
  PgTestDatabase() {
    const char* state_path = std::getenv("AEGIS_TEST_PG");
    if (!state_path) throw std::runtime_error("AEGIS_TEST_PG is not set: run this test through ctest");
    std::ifstream in(state_path);
    if (!in) throw std::runtime_error(std::string("no PostgreSQL test server: cannot read ") + state_path);
    state_ = nlohmann::json::parse(in);
    name_ = "t_" + crypto::RandomHex(8).value();
    Admin("CREATE DATABASE " + name_ + " OWNER aegis");
  }
  ~PgTestDatabase() {
    try {
      Admin("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server is going away with the whole cluster at the end of the run.
    }
  }
  PgTestDatabase(const PgTestDatabase&) = delete;
  PgTestDatabase& operator=(const PgTestDatabase&) = delete;

  // Over the server's Unix socket.
  std::string url() const {
    return "postgresql:///" + name_ + "?host=" + state_["socket_dir"].get<std::string>() +
           "&port=" + std::to_string(state_["port"].get<int>()) + "&user=aegis";
  }
  // Over TCP with TLS (the server must have been started with --tls).
  std::string tls_url() const {
    return "postgresql://aegis@localhost:" + std::to_string(state_["port"].get<int>()) + "/" + name_ +
           "?sslmode=verify-full&sslrootcert=" + state_["ca"].get<std::string>();
  }
  std::string password() const { return state_["password"].get<std::string>(); }
  const std::string& name() const { return name_; }

  // Runs SQL as the test role in this database (for doctoring or inspecting
  // it); the rows as text; throws on error.
  std::vector<std::vector<std::string>> Exec(const std::string& sql) const { return Run(name_, sql); }

 private:
  void Admin(const std::string& sql) const { Run("aegis", sql); }

  std::vector<std::vector<std::string>> Run(const std::string& database, const std::string& sql) const {
    const std::string socket_dir = state_["socket_dir"].get<std::string>();
    const std::string port = std::to_string(state_["port"].get<int>());
    const std::string pw = password();
    const char* keys[] = {"host", "port", "dbname", "user", "password", nullptr};
    const char* values[] = {socket_dir.c_str(), port.c_str(), database.c_str(), "aegis", pw.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, 0);
    std::string error;
    std::vector<std::vector<std::string>> rows;
    if (PQstatus(conn) != CONNECTION_OK) {
      error = PQerrorMessage(conn);
    } else {
      PGresult* r = PQexec(conn, sql.c_str());
      if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) error = PQerrorMessage(conn);
      for (int row = 0; row < PQntuples(r); ++row) {
        rows.emplace_back();
        for (int column = 0; column < PQnfields(r); ++column) rows.back().emplace_back(PQgetvalue(r, row, column));
      }
      PQclear(r);
    }
    PQfinish(conn);
    if (!error.empty()) throw std::runtime_error(sql + ": " + error);
    return rows;
  }

  nlohmann::json state_;
  std::string name_;
};

}  // namespace aegis::testing

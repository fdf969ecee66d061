# JWT verifier (JwtVerifier, include/aegis/auth/jwt.h): bearer JWTs from an OIDC
# provider checked against its JWKS. A library of its own, below aegis_auth, so
# it is tested and fuzzed without the store.
# JwksRefresher (include/aegis/auth/jwks_refresher.h) keeps its keys current.
add_library(aegis_auth_jwt STATIC jwt.cc jwks.cc jwt_claims.cc jwt_signature.cc jwks_refresher.cc)
# src/ for crypto/openssl_ptr.h (the OpenSSL owning pointers).
target_include_directories(aegis_auth_jwt PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(aegis_auth_jwt
  PUBLIC aegis_common aegis_policy
  PRIVATE aegis_crypto PkgConfig::SIMDJSON OpenSSL::Crypto spdlog::spdlog)

aegis_add_test(aegis_jwt_test
  SOURCES jwt_test.cc jwks_test.cc jwks_refresher_test.cc
  LIBS aegis_auth_jwt aegis_crypto OpenSSL::Crypto nlohmann_json::nlohmann_json Threads::Threads)

# Tokens are untrusted bytes on every request: fuzz the verifier and the JWKS reader.
aegis_add_fuzzer(aegis_jwt_fuzz SOURCES jwt_fuzz.cc LIBS aegis_auth_jwt PkgConfig::SIMDJSON OpenSSL::Crypto
                 CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_corpus/jwt)
if(TARGET aegis_jwt_fuzz)
  target_include_directories(aegis_jwt_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/src)
endif()

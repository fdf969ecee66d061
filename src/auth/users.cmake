# People: accounts (Argon2id password + TOTP), logins, sessions and the abuse
# limits around them. Included by CMakeLists.txt; linked into aegis_auth.
add_library(aegis_auth_users STATIC
  lockout.cc login_concurrency.cc login_throttle.cc session_table.cc totp.cc user_directory.cc user_validation.cc)
target_link_libraries(aegis_auth_users PUBLIC aegis_common aegis_crypto aegis_keys aegis_store aegis_policy
                                              OpenSSL::Crypto)

aegis_add_test(aegis_users_test SOURCES login_limits_test.cc totp_test.cc user_directory_test.cc LIBS aegis_auth_users)

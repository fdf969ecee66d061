#include "aegis/auth/principal.h"

namespace aegis::auth {

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kToken:
      return "token";
    case Method::kSession:
      return "session";
    case Method::kJwt:
      return "jwt";
    case Method::kClientCert:
      return "mtls";
  }
  return "unknown";
}

}  // namespace aegis::auth

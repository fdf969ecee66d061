#include "aegis/common/status.h"

#include <cstdio>
#include <cstdlib>

namespace aegis {

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kMethodNotAllowed:
      return 405;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kUnprocessable:
      return 422;
    case StatusCode::kTooManyRequests:
      return 429;
    case StatusCode::kInternal:
    case StatusCode::kDataLoss:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
  }
  return 500;
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kMethodNotAllowed:
      return "method_not_allowed";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kTooLarge:
      return "too_large";
    case StatusCode::kUnprocessable:
      return "unprocessable";
    case StatusCode::kTooManyRequests:
      return "too_many_requests";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kDataLoss:
      return "data_loss";
    case StatusCode::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

namespace internal {

void DieOnValueOfError(const Status& status) {
  // A bug, not bad input: fail loudly in every build type rather than read an
  // empty optional (undefined behaviour).
  std::fprintf(stderr, "aegis: StatusOr value read on an error: %s: %s\n", StatusCodeName(status.code()),
               status.message().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace internal
}  // namespace aegis

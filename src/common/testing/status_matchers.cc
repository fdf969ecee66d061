#include "common/testing/status_matchers.h"

namespace aegis {

void PrintTo(const Status& status, std::ostream* os) {
  *os << StatusCodeName(status.code());
  if (!status.ok()) *os << ": " << status.message();
}

}  // namespace aegis

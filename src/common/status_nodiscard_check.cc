// Compiled by the aegis_status_nodiscard test, which expects the compiler to
// refuse it: a Status or StatusOr dropped without IgnoreError() does not build.
#include "aegis/common/status.h"

aegis::Status Save();
aegis::StatusOr<int> Count();

void DropsErrors() {
  Save();
  Count();
}

// The pure parts of the webhook sink (internal to src/audit/sinks): the batch body and
// the decision what an answer means for the batch.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <vector>

#include "aegis/common/status.h"
#include "sink_queue.h"

namespace aegis::audit::internal {

// {"events":[...],"heads":[...]}: the items are JSON objects written by the
// audit log itself, so they are spliced in as they are.
std::string BuildWebhookBatch(const std::vector<SinkItem>& items);

// An Alertmanager webhook notification (version "4") of the alert objects in
// `items`: status "firing" when any alert fires, groupLabels the alertname when
// all share it, commonLabels and commonAnnotations what all share. An item that
// is not a JSON object is left out.
std::string BuildAlertmanagerPayload(const std::vector<SinkItem>& items, const std::string& receiver);

enum class DeliveryOutcome {
  kDelivered,  // 2xx
  kRetry,      // no answer (connection, TLS, timeout), 5xx, 429: try again later
  kRejected,   // any other answer: the endpoint will not take this batch
};
// `http_status` is the answer's status, or the error when there was none.
DeliveryOutcome ClassifyDelivery(const StatusOr<int>& http_status);

}  // namespace aegis::audit::internal

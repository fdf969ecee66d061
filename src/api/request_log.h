// What a request leaves in the logs besides its audit event: a line in the
// access log ([logging] access_log), and an error line in the server log for
// every 5xx. Internal to the api module.
//
// The access line is built from what the audit event already holds (request
// id, client, principal, resource, status) plus the method, the path and the
// byte counts: never a header, a query string or a body, so no credential,
// password, TOTP code or tensor can reach it.
//
// Thread-safety: stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "aegis/audit/event.h"
#include "aegis/http/message.h"

namespace aegis::api::internal {

// {model, version} of a resource "model:NAME/versions/V" (version empty for
// "model:NAME"); both empty for any other resource.
std::pair<std::string_view, std::string_view> ModelOfResource(std::string_view resource);

// One JSON object (no newline): time, request_id, listener, remote, method,
// path, status, bytes_in, bytes_out, duration_ms, principal (when one was
// authenticated), model and version (when the resource is a model), action.
std::string AccessLine(const audit::AuditEvent& event, std::string_view method, std::string_view path,
                       const http::RequestEnd& end);

// The server log's line for a request answered 5xx, with its request id,
// principal, model and version as fields.
void LogServerError(const audit::AuditEvent& event, std::string_view method, std::string_view path);

}  // namespace aegis::api::internal

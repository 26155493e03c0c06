#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "proxy/io.hpp"
#include "proxy/state/runtime_state.hpp"

/// The admin API's JSON answers (SPEC §6), shared by its read and runtime handlers.
namespace tg::proxy {

/// A JSON response, never cached.
http::response<http::string_body> json_response(http::status status, const boost::json::value& body,
                                                unsigned version);

/// `{"error": message}`.
boost::json::object error_body(std::string message);

/// A maintenance setting as the API and the audit show it: enabled, message, retry_after.
boost::json::object maintenance_setting_json(const Maintenance& maintenance);

/// A tenant's maintenance as the API shows it: null when off.
boost::json::value maintenance_json(const Maintenance* maintenance);

/// An RFC 3339 UTC time with milliseconds.
std::string rfc3339(std::chrono::system_clock::time_point time);

}  // namespace tg::proxy

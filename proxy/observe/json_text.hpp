#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace tg::proxy {

/// Appends `text` as a JSON string literal (quotes included), escaping per RFC 8259 §7 so that
/// client-controlled fields (paths, hosts) cannot break a log line.
void append_json_string(std::string& out, std::string_view text);

/// Appends an RFC 3339 UTC timestamp with milliseconds, e.g. 2026-11-23T19:35:00.123Z.
void append_rfc3339(std::string& out, std::chrono::system_clock::time_point when);

}  // namespace tg::proxy

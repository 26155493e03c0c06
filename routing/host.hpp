#pragma once

#include <string>
#include <string_view>

/// The Host header reduced to the form tenant hosts are written in (SPEC §3 step 1).
namespace tg::routing {

/// Lower-cases `host_header`, drops the port and one trailing dot, and writes the result to
/// `out` ("Erp.Acme.COM.:8443" -> "erp.acme.com", "[::1]:8080" -> "[::1]"). Returns false,
/// leaving `out` untouched, for an empty or invalid value: a character outside an RFC 3986
/// §3.2.2 reg-name, a malformed IPv6 literal, a non-numeric or out-of-range port, whitespace.
/// `out` keeps its capacity, so a caller reusing it across requests does not allocate.
[[nodiscard]] bool normalize_host(std::string_view host_header, std::string& out);

}  // namespace tg::routing

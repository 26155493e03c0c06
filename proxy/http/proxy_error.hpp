#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tg::proxy {

/// Why the proxy answers a request itself instead of relaying the upstream's response.
enum class ErrorKind {
    bad_request,        ///< malformed or ambiguous framing (RFC 9112 §6.3, smuggling defences)
    header_timeout,     ///< headers not complete within timeouts.client_header
    body_timeout,       ///< the request body stalled: no byte for timeouts.client_idle
    body_too_large,     ///< over limits.max_request_body
    headers_too_large,  ///< over limits.max_header_bytes
    unknown_host,       ///< no tenant for the Host
    forbidden,          ///< /web/database/* with database_manager: deny
    maintenance,        ///< global or tenant maintenance (SPEC §5)
    rate_limited,       ///< a tenant, per-client or in-flight limit (SPEC §4)
    no_endpoint,        ///< the pool has no address at all
    connect_failed,     ///< could not connect (or a reused connection died before answering)
    upstream_protocol,  ///< the upstream's response could not be parsed
    upstream_timeout,   ///< no response within the route's timeout
};

/// Which side failed, for logs and metrics (upstream_errors_total's reason).
enum class ErrorSide { downstream, upstream };

/// One error of the data path; mapped to an HTTP status in exactly one place (status_of).
struct ProxyError {
    ErrorKind kind;
    ErrorSide side;
};

/// The HTTP status that answers `kind` (SPEC §3 table).
unsigned status_of(ErrorKind kind);

/// True when the client connection must be closed after the answer: the request's framing can
/// no longer be trusted, so nothing after it on the connection can be either.
bool closes_connection(ErrorKind kind);

/// A short machine-friendly reason, e.g. "connect_failed".
std::string_view reason_of(ErrorKind kind);

inline constexpr std::string_view default_local_content_type = "text/plain; charset=utf-8";

/// A complete HTTP/1.1 response produced by the proxy: status line, a body (by default a
/// short text naming the status), Content-Length, X-Request-Id and, when `close`,
/// `Connection: close`. `extra_headers` is inserted verbatim (each line ending in CRLF).
void build_local_response(std::string& out, unsigned status, std::string_view request_id,
                          bool close, std::string_view extra_headers = {},
                          std::string_view body = {},
                          std::string_view content_type = default_local_content_type);

}  // namespace tg::proxy

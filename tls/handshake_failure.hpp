#pragma once

#include <array>
#include <boost/system/error_code.hpp>
#include <string_view>

/// Why a TLS handshake failed, as a bounded label for a metric such as
/// tenantgate_tls_handshake_failures_total{listener,reason}. An unknown SNI name is not listed:
/// it is served the default certificate and does not fail.
namespace tg::tls {

/// Every label handshake_failure_reason returns, for registering the metric's series up front.
inline constexpr std::array<std::string_view, 8> handshake_failure_reasons = {
    "unsupported_protocol",     // client offers only versions below min_version (or none we know)
    "no_shared_cipher",         // no common cipher suite, group or signature algorithm
    "unknown_ca_or_bad_cert",   // the client rejected our certificate (alert 42-46, 48, ...)
    "no_application_protocol",  // ALPN offered without http/1.1 (e.g. only h2)
    "not_tls",                  // plain HTTP or other bytes on the TLS port
    "client_closed",            // EOF or reset before the handshake completed
    "timeout",                  // the proxy's handshake deadline cancelled it
    "other",
};

/// The label for an OpenSSL error code (ERR_get_error()).
std::string_view handshake_failure_reason(unsigned long openssl_error);

/// The label for the error an Asio ssl::stream handshake completed with.
std::string_view handshake_failure_reason(const boost::system::error_code& error);

}  // namespace tg::tls

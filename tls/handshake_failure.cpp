#include "tls/handshake_failure.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>

namespace tg::tls {
namespace {

/// A received alert is reported as SSL_AD_REASON_OFFSET + the alert's code (RFC 8446 §6).
std::string_view reason_for_alert(int alert) {
    switch (alert) {
        case SSL_AD_PROTOCOL_VERSION:
            return "unsupported_protocol";
        case SSL_AD_HANDSHAKE_FAILURE:
        case SSL_AD_INSUFFICIENT_SECURITY:
            return "no_shared_cipher";
        case SSL_AD_BAD_CERTIFICATE:
        case SSL_AD_UNSUPPORTED_CERTIFICATE:
        case SSL_AD_CERTIFICATE_REVOKED:
        case SSL_AD_CERTIFICATE_EXPIRED:
        case SSL_AD_CERTIFICATE_UNKNOWN:
        case SSL_AD_UNKNOWN_CA:
        case SSL_AD_BAD_CERTIFICATE_STATUS_RESPONSE:
            return "unknown_ca_or_bad_cert";
        case SSL_AD_NO_APPLICATION_PROTOCOL:
            return "no_application_protocol";
        case SSL_AD_CLOSE_NOTIFY:
        case SSL_AD_USER_CANCELLED:
            return "client_closed";
        default:
            return "other";
    }
}

}  // namespace

std::string_view handshake_failure_reason(unsigned long openssl_error) {
    if (ERR_SYSTEM_ERROR(openssl_error)) {
        const int error = ERR_GET_REASON(openssl_error);
        return error == ECONNRESET || error == EPIPE ? "client_closed" : "other";
    }
    if (ERR_GET_LIB(openssl_error) != ERR_LIB_SSL) return "other";
    const int reason = ERR_GET_REASON(openssl_error);
    if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
        return reason_for_alert(reason - SSL_AD_REASON_OFFSET);
    switch (reason) {
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_UNSUPPORTED_SSL_VERSION:
        case SSL_R_WRONG_SSL_VERSION:
            return "unsupported_protocol";
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_NO_SHARED_GROUPS:
        case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
        case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
        case SSL_R_NO_SUITABLE_KEY_SHARE:
        case SSL_R_NO_CIPHERS_AVAILABLE:
        case SSL_R_INSUFFICIENT_SECURITY:
            return "no_shared_cipher";
        case SSL_R_NO_APPLICATION_PROTOCOL:
            return "no_application_protocol";
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_UNKNOWN_PROTOCOL:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
        case SSL_R_RECORD_LENGTH_MISMATCH:
            return "not_tls";
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return "client_closed";
        default:
            return "other";
    }
}

std::string_view handshake_failure_reason(const boost::system::error_code& error) {
    namespace asio = boost::asio;
    if (error.category() == asio::error::get_ssl_category())
        return handshake_failure_reason(
            static_cast<unsigned long>(static_cast<unsigned>(error.value())));
    if (error == asio::error::operation_aborted || error == asio::error::timed_out)
        return "timeout";
    if (error == asio::error::eof || error == asio::error::connection_reset ||
        error == asio::error::broken_pipe || error == asio::ssl::error::stream_truncated ||
        error == asio::ssl::error::unspecified_system_error)
        return "client_closed";
    return "other";
}

}  // namespace tg::tls

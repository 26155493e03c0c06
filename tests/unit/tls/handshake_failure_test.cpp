#include "tls/handshake_failure.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <catch2/catch.hpp>
#include <vector>

using tg::tls::handshake_failure_reason;
using tg::tls::handshake_failure_reasons;

namespace {

unsigned long ssl_error(int reason) {
    return ERR_PACK(ERR_LIB_SSL, 0, reason);
}

bool listed(std::string_view label) {
    return std::find(handshake_failure_reasons.begin(), handshake_failure_reasons.end(), label) !=
           handshake_failure_reasons.end();
}

}  // namespace

TEST_CASE("OpenSSL reasons map to bounded labels", "[tls][handshake_failure]") {
    CHECK(handshake_failure_reason(ssl_error(SSL_R_UNSUPPORTED_PROTOCOL)) ==
          "unsupported_protocol");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_NO_SHARED_CIPHER)) == "no_shared_cipher");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_NO_SHARED_GROUPS)) == "no_shared_cipher");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_NO_APPLICATION_PROTOCOL)) ==
          "no_application_protocol");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_HTTP_REQUEST)) == "not_tls");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_WRONG_VERSION_NUMBER)) == "not_tls");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_UNEXPECTED_EOF_WHILE_READING)) ==
          "client_closed");
    CHECK(handshake_failure_reason(ssl_error(SSL_R_BAD_LENGTH)) == "other");
    CHECK(handshake_failure_reason(ERR_PACK(ERR_LIB_X509, 0, 1)) == "other");
}

TEST_CASE("alerts sent by the client map by alert code", "[tls][handshake_failure]") {
    const auto alert = [](int code) { return ssl_error(SSL_AD_REASON_OFFSET + code); };
    CHECK(handshake_failure_reason(alert(SSL_AD_UNKNOWN_CA)) == "unknown_ca_or_bad_cert");
    CHECK(handshake_failure_reason(alert(SSL_AD_BAD_CERTIFICATE)) == "unknown_ca_or_bad_cert");
    CHECK(handshake_failure_reason(alert(SSL_AD_CERTIFICATE_EXPIRED)) == "unknown_ca_or_bad_cert");
    CHECK(handshake_failure_reason(alert(SSL_AD_PROTOCOL_VERSION)) == "unsupported_protocol");
    CHECK(handshake_failure_reason(alert(SSL_AD_HANDSHAKE_FAILURE)) == "no_shared_cipher");
    CHECK(handshake_failure_reason(alert(SSL_AD_USER_CANCELLED)) == "client_closed");
    CHECK(handshake_failure_reason(alert(SSL_AD_DECODE_ERROR)) == "other");
}

TEST_CASE("Asio error codes map to the same labels", "[tls][handshake_failure]") {
    namespace asio = boost::asio;
    const boost::system::error_code packed(static_cast<int>(ssl_error(SSL_R_NO_SHARED_CIPHER)),
                                           asio::error::get_ssl_category());
    CHECK(handshake_failure_reason(packed) == "no_shared_cipher");
    CHECK(handshake_failure_reason(make_error_code(asio::error::operation_aborted)) == "timeout");
    CHECK(handshake_failure_reason(make_error_code(asio::error::eof)) == "client_closed");
    CHECK(handshake_failure_reason(make_error_code(asio::error::connection_reset)) ==
          "client_closed");
    CHECK(handshake_failure_reason(make_error_code(asio::ssl::error::stream_truncated)) ==
          "client_closed");
    CHECK(handshake_failure_reason(make_error_code(asio::error::host_unreachable)) == "other");
}

TEST_CASE("every label returned is in the published set", "[tls][handshake_failure]") {
    std::vector<int> unlisted;
    for (int reason = 1; reason < 1300; ++reason)
        if (!listed(handshake_failure_reason(ssl_error(reason)))) unlisted.push_back(reason);
    CHECK(unlisted.empty());
    CHECK(handshake_failure_reasons.size() == 8);
    CHECK(listed("timeout"));
    CHECK_FALSE(listed("sni_unknown"));
}

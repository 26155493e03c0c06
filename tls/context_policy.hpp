#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tls/openssl_ptr.hpp"
#include "tls/ticket_keys.hpp"

/// The TLS policy every server context of tenantgate gets, in one place: after the SNI switch
/// (SSL_set_SSL_CTX) a connection keeps the versions, ciphers and options of the context it
/// started on but takes the callbacks of the one it switched to, so all must be identical.
namespace tg::tls {

/// "1.2" → TLS1_2_VERSION, "1.3" → TLS1_3_VERSION; nullopt for anything else.
std::optional<int> protocol_version(std::string_view min_version);

/// A new server SSL_CTX: TLS 1.2+ (`min_version` may raise it to 1.3); TLS 1.2 suites limited to
/// ECDHE with AES-GCM or ChaCha20-Poly1305, TLS 1.3 suites OpenSSL's defaults (all AEAD);
/// server cipher order; groups X25519, P-256, P-384; security level 2; no compression, no
/// renegotiation, no session cache; tickets sealed with `ticket_keys`; ALPN "http/1.1" only.
/// Null with `error` set when OpenSSL refuses.
SslCtxPtr make_server_context(int min_version, std::shared_ptr<TicketKeys> ticket_keys,
                              std::string& error);

/// The ALPN protocols tenantgate speaks, in wire format.
inline constexpr std::string_view alpn_http11 = "\x08http/1.1";

}  // namespace tg::tls

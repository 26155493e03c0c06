#include "tls/context_policy.hpp"

#include "tls/openssl_error.hpp"

namespace tg::tls {
namespace {

// Mozilla "intermediate" TLS 1.2 list, ECDSA before RSA and AES-GCM first: forward secrecy and
// AEAD only (no CBC, no static RSA, no DHE whose parameters clients cannot check).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr const char* groups = "X25519:P-256:P-384";

/// Sessions resume across every tenantgate context: the SNI switch keeps the context's id when
/// they match, and the ticket check compares it with the one sealed in the ticket.
constexpr unsigned char session_id_context[] = "tenantgate";

/// RFC 7301 §3.2: a server that speaks none of the client's protocols answers with a fatal
/// no_application_protocol alert. A client offering only "h2" (or "acme-tls/1") thus fails at
/// once with a clear alert instead of sending an HTTP/2 preface to an HTTP/1.1 server. Clients
/// that send no ALPN at all are served HTTP/1.1 (the callback is not called).
int select_http11(SSL*, const unsigned char** out, unsigned char* out_length,
                  const unsigned char* offered, unsigned int offered_length, void*) {
    unsigned char* chosen = nullptr;
    const auto* ours = reinterpret_cast<const unsigned char*>(alpn_http11.data());
    if (SSL_select_next_proto(&chosen, out_length, ours, static_cast<unsigned>(alpn_http11.size()),
                              offered, offered_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::optional<int> protocol_version(std::string_view min_version) {
    if (min_version == "1.2") return TLS1_2_VERSION;
    if (min_version == "1.3") return TLS1_3_VERSION;
    return std::nullopt;
}

SslCtxPtr make_server_context(int min_version, std::shared_ptr<TicketKeys> ticket_keys,
                              std::string& error) {
    SslCtxPtr context(SSL_CTX_new(TLS_server_method()));
    const auto fail = [&](const char* step) {
        error = std::string(step) + ": " + take_openssl_errors();
        return nullptr;
    };
    if (!context) return fail("cannot create an SSL_CTX");
    SSL_CTX* ctx = context.get();
    // Explicit, so the policy does not depend on the distribution's openssl.cnf: level 2 means
    // RSA and DH >= 2048 bits, ECC >= 224 bits, no SHA-1 signatures.
    SSL_CTX_set_security_level(ctx, 2);
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1)
        return fail("cannot set the minimum TLS version");
    if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
        return fail("cannot set the TLS 1.2 ciphers");
    if (SSL_CTX_set1_groups_list(ctx, groups) != 1) return fail("cannot set the ECDH groups");
    // Server order protects clients whose own order is poor; PRIORITIZE_CHACHA still lets a
    // phone without AES instructions that lists ChaCha20 first have it.
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    // Resumption is by ticket only: a per-context cache would neither survive a reload nor be
    // shared between replicas, and it grows with every client.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1) != 1)
        return fail("cannot set the session id context");
    if (!use_ticket_keys(ctx, std::move(ticket_keys)))
        return fail("cannot install the session ticket keys");
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // no client certificates
    return context;
}

}  // namespace tg::tls

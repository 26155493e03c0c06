#include "handshake_pump.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace tg::tls::test {
namespace {

enum class Step { done, waiting, failed };

Step step(SSL* ssl, unsigned long& error) {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl);
    if (result == 1) return Step::done;
    const int reason = SSL_get_error(ssl, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return Step::waiting;
    error = ERR_peek_error();
    ERR_clear_error();
    return Step::failed;
}

SslCtxPtr client_context(const ClientOptions& options) {
    SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* ctx = context.get();
    // Old versions need level 0 on the client, or it refuses to offer them at all.
    SSL_CTX_set_security_level(ctx, options.min_version < TLS1_2_VERSION ? 0 : 1);
    SSL_CTX_set_min_proto_version(ctx, options.min_version);
    SSL_CTX_set_max_proto_version(ctx, options.max_version);
    if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1)
        throw std::runtime_error("client cipher list");
    if (!options.sigalgs.empty() && SSL_CTX_set1_sigalgs_list(ctx, options.sigalgs.c_str()) != 1)
        throw std::runtime_error("client sigalgs");
    if (!options.alpn.empty() &&
        SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(options.alpn.data()),
                                static_cast<unsigned>(options.alpn.size())) != 0)
        throw std::runtime_error("client ALPN");
    if (!options.trust_file.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, options.trust_file.c_str(), nullptr) != 1)
            throw std::runtime_error("client trust file");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    return context;
}

}  // namespace

HandshakeOutcome handshake(SSL_CTX* server_context, const ClientOptions& options) {
    return handshake(SslPtr(SSL_new(server_context)), options);
}

HandshakeOutcome handshake(SslPtr server, const ClientOptions& options) {
    HandshakeOutcome outcome;
    const SslCtxPtr context = client_context(options);
    SslPtr client(SSL_new(context.get()));
    if (!options.server_name.empty()) {
        SSL_set_tlsext_host_name(client.get(), options.server_name.c_str());
        if (!options.trust_file.empty()) SSL_set1_host(client.get(), options.server_name.c_str());
    }
    if (options.resume != nullptr) SSL_set_session(client.get(), options.resume);

    BIO* client_end = nullptr;
    BIO* server_end = nullptr;
    BIO_new_bio_pair(&client_end, 0, &server_end, 0);
    SSL_set_bio(client.get(), client_end, client_end);
    SSL_set_bio(server.get(), server_end, server_end);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());

    Step client_state = Step::waiting;
    Step server_state = Step::waiting;
    // Once one end has failed, the other needs a round or two to read its alert.
    int rounds_after_failure = 0;
    for (int round = 0; round < 64 && rounds_after_failure < 3; ++round) {
        if (client_state == Step::waiting) client_state = step(client.get(), outcome.client_error);
        if (server_state == Step::waiting) server_state = step(server.get(), outcome.server_error);
        if (client_state != Step::waiting && server_state != Step::waiting) break;
        if (client_state == Step::failed || server_state == Step::failed) ++rounds_after_failure;
    }
    outcome.ok = client_state == Step::done && server_state == Step::done;
    if (!outcome.ok) return outcome;

    // TLS 1.3 tickets arrive after the handshake: a read processes them (and finds no data).
    char byte = 0;
    SSL_read(client.get(), &byte, 1);
    ERR_clear_error();

    outcome.version = SSL_version(client.get());
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(client.get(), &alpn, &alpn_length);
    outcome.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
    if (X509Ptr peer{SSL_get1_peer_certificate(client.get())}) {
        outcome.server_key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(peer.get()));
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer.get()), NID_commonName, cn, sizeof cn);
        outcome.server_subject_cn = cn;
    }
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(client.get()))
        outcome.chain_length = sk_X509_num(chain);
    outcome.verify_result = SSL_get_verify_result(client.get());
    outcome.resumed = SSL_session_reused(client.get()) == 1;
    outcome.session.reset(SSL_get1_session(client.get()));
    // Freeing an SSL that did not send close_notify marks its session not resumable.
    SSL_shutdown(client.get());
    return outcome;
}

}  // namespace tg::tls::test

#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "tls/openssl_ptr.hpp"

/// In-memory TLS handshakes for the tls/ tests: a client SSL and a server SSL joined by a BIO
/// pair and driven in turn, no sockets and no threads.
namespace tg::tls::test {

struct SessionFree {
    void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

/// What the client offers.
struct ClientOptions {
    int min_version = TLS1_2_VERSION;
    int max_version = 0;      ///< 0: the highest OpenSSL has
    std::string ciphers;      ///< TLS 1.2 cipher list; empty: OpenSSL's default
    std::string sigalgs;      ///< signature algorithms; empty: OpenSSL's default
    std::string alpn;         ///< wire format ("\x08http/1.1"); empty: no ALPN extension
    std::string server_name;  ///< SNI; empty: none sent
    std::string trust_file;   ///< verify the server's chain against this CA file, if set
    SSL_SESSION* resume = nullptr;
};

/// How it went, from both ends.
struct HandshakeOutcome {
    bool ok = false;
    unsigned long server_error = 0;  ///< first OpenSSL error of the failing server, 0 if none
    unsigned long client_error = 0;
    int version = 0;
    std::string alpn;
    int server_key_type = EVP_PKEY_NONE;  ///< EVP_PKEY_EC or EVP_PKEY_RSA
    std::string server_subject_cn;
    int chain_length = 0;  ///< certificates the client received, leaf included
    long verify_result = -1;
    bool resumed = false;
    SessionPtr session;  ///< the client's session after reading any tickets
};

/// Runs one handshake of a fresh client against a fresh SSL on `server_context` (a store's
/// front context).
HandshakeOutcome handshake(SSL_CTX* server_context, const ClientOptions& options);

/// Same, with a server SSL the caller created.
HandshakeOutcome handshake(SslPtr server, const ClientOptions& options);

}  // namespace tg::tls::test

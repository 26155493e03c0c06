#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

/// Owning pointers for the OpenSSL objects tls/ keeps: every one is released exactly once, on
/// every path, without a hand-written free.
namespace tg::tls {

/// Calls `free_function` on destruction (X509_free, EVP_PKEY_free, ...).
template <auto free_function>
struct OpensslFree {
    template <class T>
    void operator()(T* object) const {
        free_function(object);
    }
};

/// Frees a stack and drops one reference on each certificate in it.
struct X509StackFree {
    void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};

using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslFree<BIO_free_all>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslFree<SSL_free>>;

}  // namespace tg::tls

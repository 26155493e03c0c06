#include "proxy/tls_socket.hpp"

#include <openssl/err.h>

#include <cerrno>
#include <new>

namespace tg::proxy {

namespace tls_socket_detail {
namespace {

/// The error an SSL call failed with (`ret` its return), as asio::ssl::stream reports it: eof
/// for a close_notify, stream_truncated for an end of stream without one.
error_code ssl_call_error(SSL* ssl, int ret) {
    const int system_error = errno;
    const int error = SSL_get_error(ssl, ret);
    const unsigned long queued = ERR_get_error();
    ERR_clear_error();
    if (error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
    if (error == SSL_ERROR_SYSCALL && queued == 0) {
        if (system_error != 0) return {system_error, asio::error::get_system_category()};
        return asio::ssl::error::stream_truncated;
    }
    if (ERR_GET_LIB(queued) == ERR_LIB_SSL &&
        ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return asio::ssl::error::stream_truncated;
    return {static_cast<int>(queued), asio::error::get_ssl_category()};
}

/// What an SSL call that returned `ret` (1: success) came to.
SslStep step_of(SSL* ssl, int ret, std::size_t bytes) {
    if (ret == 1) return {SslStep::Status::done, {}, bytes};
    switch (SSL_get_error(ssl, ret)) {
        case SSL_ERROR_WANT_READ:
            return {SslStep::Status::want_read, {}, 0};
        case SSL_ERROR_WANT_WRITE:
            return {SslStep::Status::want_write, {}, 0};
        default:
            return {SslStep::Status::done, ssl_call_error(ssl, ret), 0};
    }
}

}  // namespace
}  // namespace tls_socket_detail

using tls_socket_detail::SslStep;

TlsSocket::TlsSocket(tcp::socket socket, asio::ssl::context& context, const Reactor& reactor)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())), reactor_(&reactor) {
    if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
        ERR_clear_error();
        throw std::bad_alloc();
    }
    SSL_set_accept_state(ssl_.get());
    // One recv takes what the socket has (up to a record buffer), not a record's header and
    // then its body: one system call per read instead of two.
    SSL_set_read_ahead(ssl_.get(), 1);
    // asio::ssl::stream's settings: writes may complete in part, be retried from a moved
    // buffer, and OpenSSL frees its record buffers while they are empty.
    SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
}

void TlsSocket::read_first(asio::const_buffer bytes) {
    if (bytes.size() == 0) return;
    BIO* memory = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
    if (!memory) throw std::bad_alloc();
    BIO_set_mem_eof_return(memory, -1);  // empty: "retry", and the socket is read then
    SSL_set0_rbio(ssl_.get(), memory);   // gives up the read side's reference to the socket BIO
    already_read_bio_ = memory;
    already_read_size_ = bytes.size();
}

void TlsSocket::read_socket_from_now() {
    if (!already_read_bio_) return;
    const std::size_t used = already_read_size_ - BIO_ctrl_pending(already_read_bio_);
    BIO* socket_bio = SSL_get_wbio(ssl_.get());
    BIO_up_ref(socket_bio);                 // one reference for each side, as SSL_set_fd left it
    SSL_set0_rbio(ssl_.get(), socket_bio);  // frees the memory BIO
    already_read_bio_ = nullptr;
    already_read_size_ = 0;
    already_read_used_ = used;
}

SslStep TlsSocket::handshake_step() {
    for (;;) {
        ERR_clear_error();
        errno = 0;
        const int ret = SSL_do_handshake(ssl_.get());
        auto step = tls_socket_detail::step_of(ssl_.get(), ret, 0);
        // The bytes read before are used up: on to the socket.
        if (step.status == SslStep::Status::want_read && already_read_bio_ &&
            BIO_ctrl_pending(already_read_bio_) == 0) {
            read_socket_from_now();
            continue;
        }
        if (step.status == SslStep::Status::done) {
            read_socket_from_now();
            step.bytes = already_read_used_;
        }
        return step;
    }
}

SslStep TlsSocket::read_step(asio::mutable_buffer buffer) {
    std::size_t n = 0;
    ERR_clear_error();
    errno = 0;
    const int ret = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
    return tls_socket_detail::step_of(ssl_.get(), ret, n);
}

SslStep TlsSocket::write_step(asio::const_buffer buffer) {
    std::size_t n = 0;
    ERR_clear_error();
    errno = 0;
    const int ret = SSL_write_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
    return tls_socket_detail::step_of(ssl_.get(), ret, n);
}

}  // namespace tg::proxy

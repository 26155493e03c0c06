#pragma once

#include <openssl/ssl.h>

#include <array>
#include <memory>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>

#include "proxy/reactor_access.hpp"

// The server side of a TLS connection whose SSL object reads and writes the socket itself, as
// HAProxy's and nginx's do. asio::ssl::stream copies every record through two zero-filled
// 17 KiB buffers and a 2 x 17 KiB BIO pair, held for the connection's life: about 64 KiB of a
// kept-open connection's 79. Here an idle connection holds its SSL object only (OpenSSL's record
// buffers are released once empty). Each SSL call runs as a reactor operation on the socket's
// own registration (proxy/reactor_access.hpp): tried at once while the socket's last edge is
// not used up, else when epoll reports the socket ready, so a wait costs no epoll_ctl.
namespace tg::proxy {

namespace tls_socket_detail {

namespace detail = asio::detail;

/// What one SSL call came to: done (with bytes, or an error), or a wait for the socket.
struct SslStep {
    enum class Status { done, want_read, want_write };
    Status status = Status::done;
    error_code ec;
    std::size_t bytes = 0;
};

/// Runs `call` (returning an SslStep) as a reactor operation on `side`: once at the start while
/// the socket may have something, then at each edge until it is done. A call that needs the
/// other side ready completes with would_block, for the caller to wait for that side.
template <class Call, class Handler, class IoExecutor>
class SslCallOp
    : public reactor_access::TransferOp<SslCallOp<Call, Handler, IoExecutor>, Handler, IoExecutor> {
    using Base = reactor_access::TransferOp<SslCallOp, Handler, IoExecutor>;

  public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(SslCallOp);

    SslCallOp(detail::reactor::op_types side, Call call, const IoExecutor& io_executor,
              Handler& handler)
        : Base(&SslCallOp::perform, io_executor, handler), side_(side), call_(std::move(call)) {}

    static detail::reactor_op::status perform(detail::reactor_op* base) {
        auto* op = static_cast<SslCallOp*>(base);
        const SslStep step = op->call_();
        using Status = SslStep::Status;
        if (step.status == Status::done) {
            op->ec_ = step.ec;
            op->bytes_transferred_ = step.bytes;
            return detail::reactor_op::done;
        }
        const bool same_side =
            (step.status == Status::want_read) == (op->side_ == detail::reactor::read_op);
        if (same_side) return detail::reactor_op::not_done;
        op->ec_ = asio::error::would_block;
        return detail::reactor_op::done;
    }

  private:
    detail::reactor::op_types side_;
    Call call_;
};

}  // namespace tls_socket_detail

class TlsSocket {
  public:
    using executor_type = tcp::socket::executor_type;
    using next_layer_type = tcp::socket;
    using lowest_layer_type = tcp::socket;

    /// A server-side connection on `socket` with `context`'s certificates and settings.
    TlsSocket(tcp::socket socket, asio::ssl::context& context, const Reactor& reactor);

    executor_type get_executor() { return socket_.get_executor(); }
    tcp::socket& next_layer() { return socket_; }
    tcp::socket& lowest_layer() { return socket_; }
    SSL* native_handle() { return ssl_.get(); }

    /// The server's handshake, with `already_read` (bytes read from the socket before it, say
    /// with a PROXY header; may be empty) taken first; completes with (error_code, how many of
    /// those bytes it used).
    template <class Token>
    auto async_handshake(asio::ssl::stream_base::handshake_type, asio::const_buffer already_read,
                         Token&& token) {
        read_first(already_read);
        return async_run(
            tcp::socket::wait_read, [this] { return handshake_step(); },
            std::forward<Token>(token));
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        const asio::mutable_buffer buffer = beast::buffers_front(buffers);
        return async_run(
            tcp::socket::wait_read, [this, buffer] { return read_step(buffer); },
            std::forward<Token>(token));
    }

    /// Small buffers (a header and a short body) are copied into one record, as
    /// asio::ssl::stream does: one record and one send instead of one each.
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return async_run(
            tcp::socket::wait_write,
            [this, buffers] {
                const asio::const_buffer first = beast::buffers_front(buffers);
                if (first.size() >= gathered_write_limit ||
                    asio::buffer_size(buffers) == first.size())
                    return write_step(first);
                // The same bytes each time the write is tried again, as OpenSSL requires.
                std::array<char, gathered_write_limit> gathered;
                return write_step(
                    asio::buffer(gathered, asio::buffer_copy(asio::buffer(gathered), buffers)));
            },
            std::forward<Token>(token));
    }

  private:
    static constexpr std::size_t gathered_write_limit = 8 * 1024;

    struct SslFree {
        void operator()(SSL* ssl) const { SSL_free(ssl); }
    };

    /// Makes the handshake read `bytes` first (a memory BIO in front of the socket's).
    void read_first(asio::const_buffer bytes);
    /// One SSL_do_handshake; once done, its bytes are how many of read_first's it used.
    tls_socket_detail::SslStep handshake_step();
    tls_socket_detail::SslStep read_step(asio::mutable_buffer buffer);
    tls_socket_detail::SslStep write_step(asio::const_buffer buffer);
    /// Puts the socket's BIO back as the one read from, noting how many of read_first's bytes
    /// were used.
    void read_socket_from_now();

    /// Runs `step` as SslCallOps on `side` until it is done, waiting for the other side of the
    /// socket (Asio's async_wait) when the SSL call needs it; completes with (error_code,
    /// std::size_t).
    template <class Step, class Token>
    auto async_run(tcp::socket::wait_type side, Step step, Token&& token) {
        return asio::async_compose<Token, void(error_code, std::size_t)>(
            RunOp<Step>{this, side, std::move(step)}, token, socket_);
    }

    template <class Step>
    struct RunOp {
        TlsSocket* self;
        tcp::socket::wait_type side;
        Step step;

        template <class Self>
        void operator()(Self& composed) {
            start(composed);
        }
        template <class Self>
        void operator()(Self& composed, error_code ec, std::size_t n) {
            if (ec == asio::error::would_block) {
                const auto other = side == tcp::socket::wait_read ? tcp::socket::wait_write
                                                                  : tcp::socket::wait_read;
                // The SSL call may have been done at once, on a socket not registered yet.
                if ((ec = reactor_access::register_for_waits(*self->reactor_, self->socket_)))
                    return composed.complete(ec, 0);
                self->socket_.async_wait(other, std::move(composed));
                return;
            }
            composed.complete(ec, n);
        }
        template <class Self>
        void operator()(Self& composed, error_code ec) {  // the other side is ready
            if (ec) return composed.complete(ec, 0);
            start(composed);
        }
        template <class Self>
        void start(Self& composed) {
            namespace detail = asio::detail;
            using Operation = tls_socket_detail::SslCallOp<Step, Self, executor_type>;
            const auto op_side = side == tcp::socket::wait_read ? detail::reactor::read_op
                                                                : detail::reactor::write_op;
            auto& implementation = reactor_access::implementation(self->socket_);
            reactor_access::start_op<Operation>(op_side, implementation,
                                                self->reactor_->of(self->socket_), composed,
                                                op_side, step, self->socket_.get_executor());
        }
    };

    tcp::socket socket_;
    std::unique_ptr<SSL, SslFree> ssl_;
    const Reactor* reactor_;
    std::size_t already_read_size_ = 0;  ///< of read_first, while its memory BIO is in place
    BIO* already_read_bio_ = nullptr;
    std::size_t already_read_used_ = 0;
};

}  // namespace tg::proxy

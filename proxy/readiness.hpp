#pragma once

#include <cassert>
#include <concepts>

#include "proxy/reactor_access.hpp"

// Reads that keep epoll's edge-triggered readiness the way HAProxy keeps its fd state: a read
// shorter than its buffer emptied the kernel's receive queue, so the next read on that socket
// is queued for epoll's next edge instead of being tried first (a recvfrom failing with EAGAIN).
// Its buffer is named only once the socket is ready, so a connection waiting for bytes needs
// neither a buffer nor a readiness wait (Asio's async_wait re-arms the descriptor with an
// epoll_ctl every time).
//
// Asio's reactor has the state for it (a descriptor's try_speculative_ flag, cleared by an
// operation that reports done_and_exhausted and set again by every edge) but its own reads
// clear it only at end of stream. These reads are Asio reactor operations, started on the
// socket's own registration (proxy/reactor_access.hpp), so edges, cancellation and close work
// as for Asio's.
namespace tg::proxy {

namespace readiness_detail {

namespace detail = asio::detail;

/// recv into the buffer the target names once the socket is ready; a read shorter than that
/// buffer reports the socket exhausted.
template <class Target, class Handler, class IoExecutor>
class DrainedReadOp : public reactor_access::TransferOp<DrainedReadOp<Target, Handler, IoExecutor>,
                                                        Handler, IoExecutor> {
    using Base = reactor_access::TransferOp<DrainedReadOp, Handler, IoExecutor>;

  public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(DrainedReadOp);

    DrainedReadOp(int descriptor, Target target, const IoExecutor& io_executor, Handler& handler)
        : Base(&DrainedReadOp::perform, io_executor, handler),
          descriptor_(descriptor),
          target_(std::move(target)) {}

    static detail::reactor_op::status perform(detail::reactor_op* base) {
        auto* op = static_cast<DrainedReadOp*>(base);
        const asio::mutable_buffer buffer = op->target_.prepare();
        if (!detail::socket_ops::non_blocking_recv1(op->descriptor_, buffer.data(), buffer.size(),
                                                    0, true, op->ec_, op->bytes_transferred_)) {
            op->target_.found_nothing();
            return detail::reactor_op::not_done;
        }
        // A failure other than end of stream is reported again by the next read, at once.
        if (op->ec_ && op->ec_ != asio::error::eof) return detail::reactor_op::done;
        return op->bytes_transferred_ < buffer.size() ? detail::reactor_op::done_and_exhausted
                                                      : detail::reactor_op::done;
    }

  private:
    int descriptor_;
    Target target_;
};

/// Starts a DrainedReadOp on the socket's registration.
template <class Target, class Handler>
void start_read(const Reactor& reactor, tcp::socket& socket, Target target, Handler& handler) {
    using Operation = DrainedReadOp<Target, Handler, tcp::socket::executor_type>;
    auto& implementation = reactor_access::implementation(socket);
    reactor_access::start_op<Operation>(asio::detail::reactor::read_op, implementation,
                                        reactor.of(socket), handler, implementation.socket_,
                                        std::move(target), socket.get_executor());
}

}  // namespace readiness_detail

/// Where a read lands, named only when the socket is ready, so that a connection waiting for
/// bytes holds no buffer: prepare() gives the buffer (not empty); found_nothing() says the read
/// found no bytes after all, so that buffer may go back. Both run on the socket's thread, inside
/// the reactor, while the read is pending.
template <class T>
concept ReadTarget = requires(T target) {
    { target.prepare() } -> std::same_as<asio::mutable_buffer>;
    target.found_nothing();
};

/// Reads what `socket` has into `target`'s buffer. Like async_read_some, except that a read
/// shorter than the buffer marks the socket drained: the next read then waits for epoll's next
/// edge with no system call, instead of trying recv first and failing with EAGAIN.
template <ReadTarget Target, class Token>
auto async_read_drained(const Reactor& reactor, tcp::socket& socket, Target target, Token&& token) {
    return asio::async_initiate<Token, void(error_code, std::size_t)>(
        [](auto handler, const Reactor* reactor, tcp::socket* socket, Target target) {
            readiness_detail::start_read(*reactor, *socket, std::move(target), handler);
        },
        token, &reactor, &socket, std::move(target));
}

/// The same into a buffer that exists already.
template <class Token>
auto async_read_drained(const Reactor& reactor, tcp::socket& socket, asio::mutable_buffer buffer,
                        Token&& token) {
    assert(buffer.size() != 0);
    struct Fixed {
        asio::mutable_buffer buffer;
        asio::mutable_buffer prepare() const { return buffer; }
        void found_nothing() const {}
    };
    return async_read_drained(reactor, socket, Fixed{buffer}, std::forward<Token>(token));
}

/// A plain socket as Beast's readers see it: its reads are async_read_drained, into the first
/// buffer of the sequence (Beast's readers pass one).
class DrainedReads {
  public:
    using executor_type = tcp::socket::executor_type;

    DrainedReads(const Reactor& reactor, tcp::socket& socket)
        : reactor_(reactor), socket_(socket) {}
    executor_type get_executor() { return socket_.get_executor(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return async_read_drained(reactor_, socket_,
                                  asio::mutable_buffer(beast::buffers_front(buffers)),
                                  std::forward<Token>(token));
    }

  private:
    const Reactor& reactor_;
    tcp::socket& socket_;
};

}  // namespace tg::proxy

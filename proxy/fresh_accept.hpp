#pragma once

#include <sys/socket.h>
#include <boost/asio/detail/socket_holder.hpp>
#include <cerrno>

#include "proxy/reactor_access.hpp"

// Accepting a client connection in the fewest system calls: accept4 gives the descriptor
// already non-blocking (Asio's accept, then non_blocking(true), costs an ioctl), and it is
// registered with epoll only when an operation on it first has to wait, so a request answered
// at once (the usual Connection: close exchange) costs no epoll_ctl; closing it is the close
// alone (Asio assumes an accepted descriptor may be shared and deregisters it first).
// The listening descriptor is held as a tcp::socket, whose registration the operation is
// started on: Asio's acceptor keeps its own out of reach.
namespace tg::proxy {

namespace fresh_accept_detail {

namespace detail = asio::detail;

template <class Handler, class IoExecutor>
class AcceptOp : public detail::reactor_op {
  public:
    BOOST_ASIO_DEFINE_HANDLER_PTR(AcceptOp);

    AcceptOp(int listening, tcp::endpoint& peer, const IoExecutor& io_executor, Handler& handler)
        : reactor_op(error_code(), &AcceptOp::perform, &AcceptOp::complete),
          listening_(listening),
          peer_(peer),
          executor_(io_executor),
          handler_(std::move(handler)),
          work_(handler_, io_executor) {}

    static status perform(reactor_op* base) {
        auto* op = static_cast<AcceptOp*>(base);
        for (;;) {
            socklen_t length = static_cast<socklen_t>(op->peer_.capacity());
            const int accepted =
                ::accept4(op->listening_, op->peer_.data(), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (accepted >= 0) {
                op->accepted_.reset(accepted);
                op->peer_.resize(length);
                return done;
            }
            // A connection reset while queued is the client's business: take the next one.
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
            op->ec_ = error_code(errno, asio::error::get_system_category());
            return done;
        }
    }

    // As Asio's accept operation completes: the handler is moved out and the operation's memory
    // freed before the upcall. The socket is made then, on the worker's thread, and only for an
    // upcall: at shutdown the handler is destroyed uncalled and the descriptor closed.
    static void complete(void* owner, detail::operation* base, const error_code&, std::size_t) {
        auto* op = static_cast<AcceptOp*>(base);
        ptr p = {detail::addressof(op->handler_), op, op};
        detail::handler_work<Handler, IoExecutor> work(std::move(op->work_));
        Handler handler(std::move(op->handler_));
        error_code ec = op->ec_;
        detail::socket_holder accepted(op->accepted_.release());
        // The peer endpoint belongs to the caller, who may be gone at shutdown.
        const auto protocol = owner && !ec ? op->peer_.protocol() : tcp::v4();
        const IoExecutor executor = op->executor_;
        p.h = detail::addressof(handler);
        p.reset();
        if (!owner) return;
        tcp::socket socket(executor);
        if (!ec) reactor_access::assign_unregistered(socket, protocol, accepted.release());
        detail::move_binder2<Handler, error_code, tcp::socket> call(0, std::move(handler), ec,
                                                                    std::move(socket));
        detail::fenced_block fence(detail::fenced_block::half);
        work.complete(call, call.handler_);
    }

  private:
    int listening_;
    tcp::endpoint& peer_;
    detail::socket_holder accepted_;  ///< closes a descriptor not handed over
    IoExecutor executor_;
    Handler handler_;
    detail::handler_work<Handler, IoExecutor> work_;
};

}  // namespace fresh_accept_detail

/// Accepts a connection on `listening` (a listening descriptor held as a tcp::socket), its
/// address in `peer`: completes with a non-blocking tcp::socket (writes_directly needs no
/// further call), not registered with epoll yet (reactor_access::assign_unregistered).
/// Failures other than a connection reset while queued are reported.
template <class Token>
auto async_accept_fresh(const Reactor& reactor, tcp::socket& listening, tcp::endpoint& peer,
                        Token&& token) {
    return asio::async_initiate<Token, void(error_code, tcp::socket)>(
        [](auto handler, const Reactor* reactor, tcp::socket* listening, tcp::endpoint* peer) {
            using Operation =
                fresh_accept_detail::AcceptOp<decltype(handler), tcp::socket::executor_type>;
            auto& implementation = reactor_access::implementation(*listening);
            reactor_access::start_op<Operation>(
                asio::detail::reactor::read_op, implementation, reactor->of(*listening), handler,
                implementation.socket_, *peer, listening->get_executor());
        },
        token, &reactor, &listening, &peer);
}

}  // namespace tg::proxy

#pragma once

#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_cont_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactive_socket_service_base.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#include <boost/version.hpp>
#include <cassert>

#include "proxy/io.hpp"

// What the socket operations Asio does not offer (proxy/readiness.hpp, proxy/fresh_accept.hpp)
// need to run as Asio reactor operations on a socket's own epoll registration, so that edges,
// cancellation and close treat them as Asio's own: the socket's descriptor, state and
// registration, and its reactor. They live in Asio's detail namespace, which is why this is
// pinned to the Boost of Debian 12.
#if BOOST_VERSION / 100 != 1081 || !defined(BOOST_ASIO_HAS_EPOLL) || \
    defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "proxy/reactor_access.hpp is written against Boost 1.81's epoll reactor"
#endif

namespace tg::proxy::reactor_access {

namespace detail = asio::detail;
using Service = detail::reactive_socket_service_base;
using Implementation = Service::base_implementation_type;

/// Protected members, reached from derived classes (through a pointer to member for the
/// objects'), which the language allows.
struct SocketAccess : tcp::socket {
    static Implementation& of(tcp::socket& socket) {
        return (socket.*(&SocketAccess::impl_)).get_implementation();
    }
};
struct ServiceAccess : Service {
    using Cancellation = Service::reactor_op_cancellation;
};

inline Implementation& implementation(tcp::socket& socket) {
    return SocketAccess::of(socket);
}

/// Makes an `Operation` from `arguments` and the handler, in the handler's memory, and starts
/// it as a `side` (read_op or write_op) operation on the registration, as Asio starts its own:
/// cancellable through the handler's slot, performed at once if the descriptor's last edge on
/// that side has not been used up, else queued for the next edge.
template <class Operation, class Handler, class... Arguments>
void start_op(detail::reactor::op_types side, Implementation& implementation,
              detail::reactor& reactor, Handler& handler, Arguments&&... arguments) {
    // Asked before the operation takes the handler over.
    const bool is_continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
    auto slot = asio::get_associated_cancellation_slot(handler);
    typename Operation::ptr p = {detail::addressof(handler), Operation::ptr::allocate(handler),
                                 nullptr};
    p.p = new (p.v) Operation(std::forward<Arguments>(arguments)..., handler);
    if (slot.is_connected()) {
        p.p->cancellation_key_ = &slot.template emplace<ServiceAccess::Cancellation>(
            &reactor, &implementation.reactor_data_, implementation.socket_, side);
    }
    if (!(implementation.state_ & detail::socket_ops::non_blocking) &&
        !detail::socket_ops::set_internal_non_blocking(implementation.socket_,
                                                       implementation.state_, true, p.p->ec_)) {
        reactor.post_immediate_completion(p.p, is_continuation);
    } else {
        reactor.start_op(side, implementation.socket_, implementation.reactor_data_, p.p,
                         is_continuation, true);
    }
    p.v = p.p = nullptr;
}

/// A reactor operation that completes its handler with (error_code, bytes transferred) as
/// Asio's own socket operations do: the handler is moved out and the operation's memory freed
/// before the upcall. `Derived` defines perform() and BOOST_ASIO_DEFINE_HANDLER_PTR.
template <class Derived, class Handler, class IoExecutor>
class TransferOp : public detail::reactor_op {
  protected:
    TransferOp(perform_func_type perform, const IoExecutor& io_executor, Handler& handler)
        : reactor_op(error_code(), perform, &TransferOp::complete),
          handler_(std::move(handler)),
          work_(handler_, io_executor) {}

  private:
    static void complete(void* owner, detail::operation* base, const error_code&, std::size_t) {
        auto* op = static_cast<Derived*>(base);
        typename Derived::ptr p = {detail::addressof(op->handler_), op, op};
        detail::handler_work<Handler, IoExecutor> work(std::move(op->work_));
        detail::binder2<Handler, error_code, std::size_t> handler(op->handler_, op->ec_,
                                                                  op->bytes_transferred_);
        p.h = detail::addressof(handler.handler_);
        p.reset();
        if (owner) {
            detail::fenced_block fence(detail::fenced_block::half);
            work.complete(handler, handler.handler_);
        }
    }

    Handler handler_;
    detail::handler_work<Handler, IoExecutor> work_;
};

}  // namespace tg::proxy::reactor_access

namespace tg::proxy {

/// The epoll reactor under one io_context (a worker's), found once: finding it is a lookup in
/// the context's service registry, too dear for every operation. The operations of
/// proxy/readiness.hpp and proxy/fresh_accept.hpp start on it, for sockets of that context.
class Reactor {
  public:
    explicit Reactor(asio::io_context& context)
        : context_(&context), reactor_(&asio::use_service<asio::detail::reactor>(context)) {}

    asio::detail::reactor& of(tcp::socket& socket) const {
        assert(&asio::query(socket.get_executor(), asio::execution::context) == context_);
        (void)socket;
        return *reactor_;
    }

  private:
    asio::execution_context* context_;
    asio::detail::reactor* reactor_;
};

}  // namespace tg::proxy

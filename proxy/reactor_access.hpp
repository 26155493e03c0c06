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

// What the socket operations Asio does not offer (proxy/readiness.hpp, proxy/fresh_accept.hpp,
// proxy/tls_socket.hpp) need to run as Asio reactor operations on a socket's own epoll
// registration, so that edges, cancellation and close treat them as Asio's own: the socket's
// descriptor, state and registration, and its reactor; and what an accepted socket needs to be
// registered only when it first has to wait. They live in Asio's detail namespace, which is
// why this is pinned to the Boost of Debian 12.
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
    static auto& of(tcp::socket& socket) {
        return (socket.*(&SocketAccess::impl_)).get_implementation();
    }
};
struct ServiceAccess : Service {
    using Cancellation = Service::reactor_op_cancellation;
};

inline Implementation& implementation(tcp::socket& socket) {
    return SocketAccess::of(socket);
}

/// Makes `socket` (closed) hold `descriptor`, a connected, non-blocking stream socket that
/// nothing else holds, without registering it with epoll: operations started through start_op
/// register it when one first has to wait, so a connection answered at once costs no
/// epoll_ctl. Asio's own operations on it (async_write, async_wait) need register_for_waits
/// first. Closing it is the close alone, since nothing shares the descriptor.
inline void assign_unregistered(tcp::socket& socket, const tcp& protocol, int descriptor) {
    auto& state = SocketAccess::of(socket);
    assert(state.socket_ == detail::invalid_socket && !state.reactor_data_);
    state.socket_ = descriptor;
    state.state_ = detail::socket_ops::stream_oriented | detail::socket_ops::non_blocking;
    state.protocol_ = protocol;
}

/// Registers the socket's descriptor with epoll, unless it is already.
inline error_code register_once(detail::reactor& reactor, Implementation& implementation) {
    if (implementation.reactor_data_) return {};
    if (const int failure =
            reactor.register_descriptor(implementation.socket_, implementation.reactor_data_)) {
        reactor.cleanup_descriptor_data(implementation.reactor_data_);  // a later wait tries again
        return {failure, asio::error::get_system_category()};
    }
    return {};
}

/// Says that an operation on `side` has just found the registered socket not ready, so that
/// the next one starts waiting for epoll's edge (the registration reports one if bytes came
/// since) instead of being tried again at once. On the worker's thread only: its io_context
/// has one thread, so no epoll_wait can use up that edge in between.
void mark_just_tried(Implementation& implementation, detail::reactor::op_types side);

/// Makes a socket of assign_unregistered ready for Asio's own operations, which start on its
/// registration. A lookup of the reactor when it registers, so only for paths off the request's
/// usual course (a write the socket could not take at once).
inline error_code register_for_waits(tcp::socket& socket) {
    auto& state = implementation(socket);
    if (state.reactor_data_) return {};
    return register_once(asio::use_service<detail::reactor>(socket.get_executor().context()),
                         state);
}

/// Makes an `Operation` from `arguments` and the handler, in the handler's memory, and starts
/// it as a `side` (read_op or write_op) operation on the registration, as Asio starts its own:
/// cancellable through the handler's slot, performed at once if the descriptor's last edge on
/// that side has not been used up, else queued for the next edge. A descriptor not registered
/// yet (assign_unregistered) is tried at once, and registered only if it has to wait.
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
    } else if (implementation.reactor_data_) {
        reactor.start_op(side, implementation.socket_, implementation.reactor_data_, p.p,
                         is_continuation, true);
    } else if (static_cast<detail::reactor_op*>(p.p)->perform() != detail::reactor_op::not_done) {
        reactor.post_immediate_completion(p.p, is_continuation);  // done without a wait
    } else if ((p.p->ec_ = register_once(reactor, implementation))) {
        reactor.post_immediate_completion(p.p, is_continuation);
    } else {
        // Queued without another try: Asio's way to skip it (no speculation) re-arms the
        // registration, an epoll_ctl more.
        mark_just_tried(implementation, side);
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

namespace tg::proxy::reactor_access {

/// register_for_waits with the worker's reactor at hand: no lookup.
inline error_code register_for_waits(const Reactor& reactor, tcp::socket& socket) {
    return register_once(reactor.of(socket), implementation(socket));
}

}  // namespace tg::proxy::reactor_access

#pragma once

#include <string_view>
#include <utility>

#include <boost/intrusive/list.hpp>

#include "config/snapshot.hpp"

#include "proxy/io.hpp"

namespace tg::proxy {

/// A client connection as its worker sees it: the deadline of the I/O step under way and the
/// sockets to cancel when it passes. One periodic sweep per worker enforces every deadline, so a
/// request arms no timer of its own (no timerfd syscalls on the request path).
class ConnectionSlot : public boost::intrusive::list_base_hook<
                           boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  public:
    /// What the connection is doing; a drain closes `idle` ones at once and `tunnel` ones after
    /// a grace period, and lets `request` ones finish.
    enum class Phase { idle, request, tunnel };

    /// Starts a deadline `timeout` from `now` for the next I/O step(s).
    void arm(Clock::time_point now, Clock::duration timeout) {
        deadline_ = now + timeout;
        timed_out_ = false;
    }
    void disarm() { deadline_ = Clock::time_point::max(); }

    void set_phase(Phase phase) { phase_ = phase; }
    Phase phase() const { return phase_; }

    /// The sockets whose pending operations a timeout or a drain cancels.
    void watch(tcp::socket* client, tcp::socket* upstream) {
        client_ = client;
        upstream_ = upstream;
    }
    void watch_upstream(tcp::socket* upstream) { upstream_ = upstream; }

    /// A plain connection waits in its coroutine for its next request: once `at` passes, the
    /// sweep cancels that wait for the connection to be parked (proxy/http/parking.hpp).
    void park_at(Clock::time_point at) { park_at_ = at; }
    /// The wait is over; true if the sweep cancelled it for parking.
    bool end_park_wait() {
        park_at_ = Clock::time_point::max();
        return std::exchange(park_due_, false);
    }
    /// Called by the sweep.
    void park_if_due(Clock::time_point now) {
        if (now < park_at_) return;
        park_at_ = Clock::time_point::max();
        park_due_ = true;
        error_code ignored;
        if (client_) client_->cancel(ignored);
    }

    /// True once the sweep has cancelled I/O because the deadline passed.
    bool timed_out() const { return timed_out_; }

    /// Called by the sweep: cancels pending I/O if the deadline has passed.
    void expire_if_due(Clock::time_point now) {
        if (now < deadline_) return;
        timed_out_ = true;
        deadline_ = Clock::time_point::max();
        cancel_io();
    }

    /// Cancels pending operations; the session sees operation_aborted and decides what to do.
    void cancel_io() {
        error_code ignored;
        if (client_) client_->cancel(ignored);
        if (upstream_) upstream_->cancel(ignored);
    }

    /// The release colour this connection's exchange or tunnel is on; `long_lived` when it is a
    /// tunnel or a long poll parked upstream, which a drain closes at its deadline (requests
    /// under way are never cut). `tenant` views into the session's generation.
    void tag_release(std::string_view tenant, config::Color color, bool long_lived) {
        release_tenant_ = tenant;
        release_color_ = color;
        long_lived_ = long_lived;
        closing_for_release_ = false;
    }
    void set_long_lived(bool long_lived) { long_lived_ = long_lived; }
    void untag_release() {
        release_tenant_ = {};
        long_lived_ = false;
        closing_for_release_ = false;
    }
    std::string_view release_tenant() const { return release_tenant_; }
    config::Color release_color() const { return release_color_; }
    bool long_lived() const { return long_lived_; }

    /// Who closes a tunnel for a release: the tunnel pump, which waits for a frame boundary.
    using CloseHandler = void (*)(void* owner);
    void on_release_close(CloseHandler handler, void* owner) {
        close_handler_ = handler;
        close_owner_ = owner;
    }
    /// A drain's deadline passed for this long-lived connection: the tunnel is asked to close
    /// (or, for a parked long poll, its I/O is cancelled and the session answers it). Once.
    void close_for_release() {
        if (closing_for_release_) return;
        closing_for_release_ = true;
        if (close_handler_)
            close_handler_(close_owner_);
        else
            cancel_io();
    }
    bool closing_for_release() const { return closing_for_release_; }

  private:
    Clock::time_point deadline_ = Clock::time_point::max();
    Clock::time_point park_at_ = Clock::time_point::max();
    bool park_due_ = false;
    Phase phase_ = Phase::idle;
    bool timed_out_ = false;
    tcp::socket* client_ = nullptr;
    tcp::socket* upstream_ = nullptr;
    std::string_view release_tenant_;
    config::Color release_color_ = config::Color::blue;
    bool long_lived_ = false;
    bool closing_for_release_ = false;
    CloseHandler close_handler_ = nullptr;
    void* close_owner_ = nullptr;
};

/// A worker's live connections; slots unlink themselves when destroyed.
using ConnectionList =
    boost::intrusive::list<ConnectionSlot, boost::intrusive::constant_time_size<false>>;

}  // namespace tg::proxy

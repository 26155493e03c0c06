#pragma once

#include <boost/intrusive/list.hpp>

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

  private:
    Clock::time_point deadline_ = Clock::time_point::max();
    Phase phase_ = Phase::idle;
    bool timed_out_ = false;
    tcp::socket* client_ = nullptr;
    tcp::socket* upstream_ = nullptr;
};

/// A worker's live connections; slots unlink themselves when destroyed.
using ConnectionList =
    boost::intrusive::list<ConnectionSlot, boost::intrusive::constant_time_size<false>>;

}  // namespace tg::proxy

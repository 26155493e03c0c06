#include "proxy/worker.hpp"

#include <algorithm>

#include "proxy/fresh_accept.hpp"
#include "proxy/http/session.hpp"
#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {

Worker::Worker(std::size_t index, AccessLogWriter& access_log_writer,
               std::shared_ptr<const Generation> generation, std::size_t max_connections,
               std::size_t listener_count)
    : index_(index),
      // One thread runs this context and only it touches the sockets: the per-descriptor locks
      // of the reactor are not needed (posts from the control thread stay locked).
      context_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      generation_(std::move(generation)),
      max_connections_(max_connections),
      access_log_(access_log_writer),
      metrics_(listener_count),
      random_(std::random_device{}()),
      tick_timer_(context_),
      room_signal_(context_, Clock::time_point::max()) {}

void Worker::add_acceptor(tcp::acceptor acceptor, ListenerInfo listener) {
    const auto protocol = acceptor.local_endpoint().protocol();
    tcp::socket listening(context_);
    listening.assign(protocol, acceptor.release());
    listening_.emplace_back(std::move(listening), std::move(listener));
}

void Worker::start() {
    for (auto& [listening, listener] : listening_)
        asio::co_spawn(context_, accept_loop(listening, listener), asio::detached);
    asio::co_spawn(context_, tick_loop(), asio::detached);
    thread_ = std::thread([this] {
        try {
            context_.run();
        } catch (const std::exception& e) {
            ops_log::error("worker stopped by an exception",
                           {{"worker", std::to_string(index_), true}, {"reason", e.what()}});
        }
        access_log_.flush();
        finished_.store(true, std::memory_order_release);
    });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> Worker::publish(std::shared_ptr<const Generation> generation) {
    co_await asio::co_spawn(context_, take(std::move(generation)), asio::use_awaitable);
}

asio::awaitable<void> Worker::take(std::shared_ptr<const Generation> generation) {
    // Publishes may cross on their way here; the latest one built wins.
    if (generation->serial() < generation_->serial()) co_return;
    generation_ = std::move(generation);
    // A release takes effect now, not at the next tick: the idle keep-alives to the colour it
    // left go, and the drain's progress is counted before the switch is answered.
    const auto now = Clock::now();
    enforce_drains(now);
    prune_upstreams(now);
    co_return;
}

void Worker::begin_drain(Clock::duration tunnel_grace) {
    asio::post(context_, [this, tunnel_grace] {
        if (draining_) return;
        draining_ = true;
        tunnel_deadline_ = Clock::now() + tunnel_grace;
        room_signal_.cancel();  // accept loops waiting for room end
        for (auto& [listening, _] : listening_) {
            error_code ignored;
            listening.close(ignored);
        }
        upstreams_.close_all_idle();
        for (auto& slot : connections_)
            if (slot.phase() == ConnectionSlot::Phase::idle) slot.cancel_io();
    });
}

asio::awaitable<void> Worker::accept_loop(tcp::socket& listening, const ListenerInfo& listener) {
    asio::steady_timer backoff(context_);
    tcp::endpoint peer;
    for (;;) {
        // At its share of max_connections the worker stops accepting: new connections wait in
        // the kernel's backlog (back-pressure) instead of being accepted and closed, and the
        // next connection to close lets one in.
        co_await wait_for_room();
        if (draining_ || !listening.is_open()) co_return;
        // The peer's address comes with accept: no getpeername per connection.
        auto [ec, socket] = co_await async_accept_fresh(reactor_, listening, peer, use_nothrow);
        if (draining_ || !listening.is_open()) co_return;
        if (ec) {
            // Out of descriptors or memory: pause instead of spinning, keep serving the others,
            // and say so once a second at most (the condition repeats every pause).
            log_accept_failure(listener, ec);
            backoff.expires_after(accept_pause_);
            co_await backoff.async_wait(use_nothrow);
            continue;
        }
        // Another listener's loop may have taken the last place meanwhile: this one waits.
        co_await wait_for_room();
        if (draining_) co_return;
        ConnectionTicket ticket(*this, listener);
        if (listener.tls)
            start_tls(std::move(ticket), std::move(socket), peer, listener);
        else
            start_plain(std::make_unique<PlainConnection>(std::move(ticket), std::move(socket),
                                                          listener, peer));
    }
}

asio::awaitable<void> Worker::wait_for_room() {
    while (connection_count_ >= max_connections_ && !draining_)
        co_await room_signal_.async_wait(use_nothrow);  // cancelled when a connection closes
}

void Worker::log_accept_failure(const ListenerInfo& listener, const error_code& ec) {
    std::uint64_t held_back = 0;
    if (!listener.accept_failure_log->admit(Clock::now(), held_back)) return;
    ops_log::warn("accept failed, accepting paused",
                  {{"listener", listener.name},
                   {"reason", ec.message()},
                   {"pause_ms", std::to_string(accept_pause_ / std::chrono::milliseconds(1)), true},
                   {"held_back", std::to_string(held_back), true}});
}

ConnectionTicket::ConnectionTicket(Worker& worker, const ListenerInfo& listener)
    : worker_(&worker), listener_(&listener) {
    worker.connection_opened(listener);
}

ConnectionTicket::~ConnectionTicket() {
    if (worker_) worker_->connection_closed(*listener_);
}

void Worker::connection_opened(const ListenerInfo& listener) {
    ++connection_count_;
    metrics_.connections(listener.index).add(1);
}

void Worker::connection_closed(const ListenerInfo& listener) {
    metrics_.connections(listener.index).add(-1);
    const bool was_full = connection_count_ >= max_connections_;
    --connection_count_;
    if (was_full) room_signal_.cancel();  // only a full worker has accept loops waiting
}

asio::awaitable<void> Worker::tick_loop() {
    for (;;) {
        tick_timer_.expires_after(tick_);
        co_await tick_timer_.async_wait(use_nothrow);
        const auto now = Clock::now();
        sweep(now);
        access_log_.flush();
        if (draining_ && connection_count_ == 0) {
            // Nothing left: with the acceptors and idle upstreams closed, the event loop runs
            // out of work and every coroutine frame unwinds before the worker is destroyed.
            upstreams_.close_all_idle();
            co_return;
        }
    }
}

void Worker::sweep(Clock::time_point now) {
    const bool close_tunnels = draining_ && now >= tunnel_deadline_;
    for (auto& slot : connections_) {
        if (close_tunnels && slot.phase() == ConnectionSlot::Phase::tunnel) slot.cancel_io();
        if (draining_ && slot.phase() == ConnectionSlot::Phase::idle) slot.cancel_io();
        slot.park_if_due(now);
        slot.expire_if_due(now);
    }
    enforce_drains(now);
    prune_upstreams(now);
}

void Worker::prune_upstreams(Clock::time_point now) {
    const auto& generation = *generation_;
    upstreams_.prune(now, upstream_idle_, [&](const tcp::endpoint& endpoint) {
        return generation.serves_endpoint(endpoint);
    });
}

void Worker::enforce_drains(Clock::time_point now) {
    const Drains& drains = generation_->runtime().drains;
    std::vector<std::int64_t> left(drains.size(), 0);
    if (!drains.empty()) {
        for (auto& slot : connections_) {
            if (slot.release_tenant().empty() || slot.phase() == ConnectionSlot::Phase::idle)
                continue;
            const auto found = drains.find(slot.release_tenant());
            if (found == drains.end() ||
                (!found->second.whole_tenant && found->second.color != slot.release_color()))
                continue;
            ++left[static_cast<std::size_t>(std::distance(drains.begin(), found))];
            if (slot.long_lived() && now >= found->second.deadline) slot.close_for_release();
        }
    }
    // Each gauge goes straight to its new value: the control thread reads a drain's zero as
    // its end, so it must never see a passing one.
    std::vector<TenantSeries*> gauges;
    std::size_t index = 0;
    for (const auto& [tenant, drain] : drains) {
        auto& series = metrics_.tenant(tenant, false);
        series.draining.set(left[index++]);
        gauges.push_back(&series);
    }
    for (auto* series : drain_gauges_)
        if (std::find(gauges.begin(), gauges.end(), series) == gauges.end())
            series->draining.set(0);
    drain_gauges_ = std::move(gauges);
}

}  // namespace tg::proxy

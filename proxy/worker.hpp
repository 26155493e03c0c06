#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "proxy/buffer_pool.hpp"
#include "proxy/connection_slot.hpp"
#include "proxy/exchange_buffers.hpp"
#include "proxy/generation.hpp"
#include "proxy/io.hpp"
#include "proxy/observe/access_log.hpp"
#include "proxy/observe/log_throttle.hpp"
#include "proxy/observe/worker_metrics.hpp"
#include "proxy/reactor_access.hpp"
#include "proxy/upstream/upstream_pool.hpp"

namespace tg::proxy {

/// What a session needs to know about the listener that accepted it.
struct ListenerInfo {
    std::string name;
    std::size_t index = 0;  ///< position in the config, for per-listener metrics
    bool tls = false;
    bool redirect_https = false;  ///< plain listener answering 308 to https (ACME excepted)
    std::string hsts;             ///< Strict-Transport-Security value; empty: none
    bool proxy_protocol = false;  ///< every connection starts with a PROXY header
    /// Refused PROXY headers: one ops log line per second for the listener, across workers.
    std::shared_ptr<LogThrottle> refusal_log;
    /// Failed accepts (out of descriptors): one ops log line per second, across workers.
    std::shared_ptr<LogThrottle> accept_failure_log;
};

class Worker;

/// One accepted connection, counted against its worker's max_connections and in its listener's
/// connections gauge until the ticket is destroyed: wherever the connection ends, in its
/// coroutine or in a parked wait.
class ConnectionTicket {
  public:
    ConnectionTicket(Worker& worker, const ListenerInfo& listener);
    ConnectionTicket(ConnectionTicket&& other) noexcept
        : worker_(std::exchange(other.worker_, nullptr)), listener_(other.listener_) {}
    ConnectionTicket& operator=(ConnectionTicket&&) = delete;
    ~ConnectionTicket();

    Worker& worker() const { return *worker_; }

  private:
    Worker* worker_;
    const ListenerInfo* listener_;
};

/// One thread with its own io_context (concurrency hint 1), its own SO_REUSEPORT acceptors,
/// upstream pool and buffers: requests never cross threads and take no lock. Other threads talk
/// to a worker only by posting to its context (publish, begin_drain).
class Worker {
  public:
    Worker(std::size_t index, AccessLogWriter& access_log_writer,
           std::shared_ptr<const Generation> generation, std::size_t max_connections,
           std::size_t listener_count);
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    asio::io_context& context() { return context_; }
    const Reactor& reactor() const { return reactor_; }
    /// Adds an acceptor (opened on this worker's context) before start().
    void add_acceptor(tcp::acceptor acceptor, ListenerInfo listener);
    void start();
    void join();
    /// True once the worker's thread has returned from its event loop. Any thread.
    bool finished() const { return finished_.load(std::memory_order_acquire); }

    /// Makes `generation` current for new requests (requests under way keep theirs); completes
    /// once the worker has taken it. Awaited from the control thread.
    asio::awaitable<void> publish(std::shared_ptr<const Generation> generation);
    /// Stops accepting, closes idle connections, lets requests finish and closes tunnels after
    /// `tunnel_grace`; the thread ends when no connection is left. Any thread.
    void begin_drain(Clock::duration tunnel_grace);
    /// Ends the event loop now, whatever is under way (second SIGTERM, drain deadline); the
    /// process must then exit without destroying the worker. Any thread.
    void stop_now() { context_.stop(); }

    // Worker-thread interface used by sessions.
    const std::shared_ptr<const Generation>& generation() const { return generation_; }
    ConnectionList& connections() { return connections_; }
    UpstreamPool& upstreams() { return upstreams_; }
    BufferPool& buffers() { return buffers_; }
    ExchangeBuffers& exchange_buffers() { return exchange_buffers_; }
    AccessLog& access_log() { return access_log_; }
    WorkerMetrics& metrics() { return metrics_; }
    const WorkerMetrics& metrics() const { return metrics_; }
    bool draining() const { return draining_; }
    std::uint64_t random() { return random_(); }
    /// The round-robin position of `pool` in this worker.
    std::uint64_t& round_robin_cursor(const std::string& pool) { return cursors_[pool]; }

  private:
    friend class ConnectionTicket;

    asio::awaitable<void> take(std::shared_ptr<const Generation> generation);
    asio::awaitable<void> accept_loop(tcp::socket& listening, const ListenerInfo& listener);
    void connection_opened(const ListenerInfo& listener);
    void connection_closed(const ListenerInfo& listener);
    /// Returns once the worker is under its share of max_connections (or draining).
    asio::awaitable<void> wait_for_room();
    void log_accept_failure(const ListenerInfo& listener, const error_code& ec);
    asio::awaitable<void> tick_loop();
    void sweep(Clock::time_point now);
    /// Counts each draining tenant's connections on the colour it left (the progress the admin
    /// API and release_draining_connections show) and closes the long-lived ones past the
    /// drain's deadline; requests under way are left to finish (SPEC §5).
    void enforce_drains(Clock::time_point now);
    /// Closes idle upstream keep-alives that the current generation no longer routes to (a pool
    /// gone with a reload, the colour a release left), and those idle too long.
    void prune_upstreams(Clock::time_point now);

    static constexpr Clock::duration tick_ = std::chrono::milliseconds(250);
    static constexpr Clock::duration upstream_idle_ = std::chrono::seconds(30);
    /// How long accepting pauses after a failed accept (EMFILE, ENOMEM): short enough to resume
    /// soon after descriptors free up, long enough not to spin on a full table.
    static constexpr Clock::duration accept_pause_ = std::chrono::milliseconds(100);

    std::size_t index_;
    asio::io_context context_;
    Reactor reactor_{context_};
    /// Listening descriptors, held as sockets for async_accept_fresh (proxy/fresh_accept.hpp).
    std::list<std::pair<tcp::socket, ListenerInfo>> listening_;
    std::shared_ptr<const Generation> generation_;
    ConnectionList connections_;
    std::size_t connection_count_ = 0;
    std::size_t max_connections_;
    UpstreamPool upstreams_;
    BufferPool buffers_;
    ExchangeBuffers exchange_buffers_;
    AccessLog access_log_;
    WorkerMetrics metrics_;
    std::mt19937_64 random_;
    std::map<std::string, std::uint64_t, std::less<>> cursors_;
    bool draining_ = false;
    std::vector<TenantSeries*> drain_gauges_;  ///< set to non-zero by the last enforce_drains
    Clock::time_point tunnel_deadline_ = Clock::time_point::max();
    asio::steady_timer tick_timer_;
    /// Never expires; cancelled when a connection closes, waking accept loops held at the limit.
    asio::steady_timer room_signal_;
    std::atomic<bool> finished_{false};
    std::thread thread_;
};

}  // namespace tg::proxy

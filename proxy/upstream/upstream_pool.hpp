#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "config/net.hpp"
#include "proxy/io.hpp"
#include "proxy/upstream/passive_health.hpp"

namespace tg::proxy {

/// One TCP connection to an upstream endpoint, with the bytes read past the last response.
struct UpstreamConnection {
    /// Room for a response header and a typical Odoo response body, read in one go (Beast sizes
    /// each read by the buffer's spare capacity). Reserved for web requests only, so a parked
    /// long poll does not hold it; kept while idle (touched pages only).
    static constexpr std::size_t read_capacity = 32 * 1024;

    UpstreamConnection(const asio::any_io_executor& executor, tcp::endpoint to)
        : socket(executor), endpoint(to) {}

    tcp::socket socket;
    beast::flat_buffer buffer;
    tcp::endpoint endpoint;
    std::uint64_t idle_epoch = 0;
    Clock::time_point idle_since{};
    char idle_probe = 0;   ///< where the idle watch's read lands: any byte retires the connection
    bool watched = false;  ///< the idle watch is armed
    /// The client its PROXY header named (a pool with send_proxy_protocol): the upstream takes
    /// every request on it as that client's, so it is reused for that client only.
    std::optional<config::IpAddress> proxied_for;
};

/// What one worker knows of one endpoint beyond its idle connections.
struct EndpointLoad {
    std::uint32_t in_flight = 0;  ///< requests in flight from this worker, read by least_conn
    PassiveHealth passive;        ///< this worker's outlier ejection of the endpoint
};

/// A worker's upstream connections, per endpoint: the idle keep-alives, the in-flight count
/// that least_conn balancing reads and the passive health. Owned by one worker thread; never
/// shared, never locked.
class UpstreamPool {
  public:
    /// An idle connection to `endpoint` opened for `proxied_for` (null: one that sent no PROXY
    /// header), or null when there is none.
    std::shared_ptr<UpstreamConnection> lease(const tcp::endpoint& endpoint,
                                              const config::IpAddress* proxied_for = nullptr);

    /// Keeps `connection` for reuse. From the next prune() on it is watched while idle: an
    /// upstream close or stray bytes retire it, so a leased connection is seldom one the
    /// upstream has already closed (a stale one fails before any response and is retried).
    /// Not watching at once saves the read that would fail with EAGAIN on every request of a
    /// busy connection, leased again within microseconds.
    void keep(std::shared_ptr<UpstreamConnection> connection, Clock::time_point now);

    /// This worker's load and passive health of `endpoint`. The reference stays valid while the
    /// endpoint has a request in flight: prune() keeps it.
    EndpointLoad& load(const tcp::endpoint& endpoint) { return endpoints_[endpoint].load; }

    /// Closes idle connections older than `max_idle`, and those `keep_endpoint` rejects (an
    /// endpoint that left the config is drained: in-flight requests finish, idle ones close).
    /// An endpoint's state goes with its last connection unless it remembers failures. Starts
    /// the watch of the connections kept since the previous prune.
    template <class KeepEndpoint>
    void prune(Clock::time_point now, Clock::duration max_idle, KeepEndpoint keep_endpoint);

    void close_all_idle();

  private:
    struct EndpointState {
        std::vector<std::shared_ptr<UpstreamConnection>> idle;
        EndpointLoad load;
    };
    void watch(const std::shared_ptr<UpstreamConnection>& connection);
    void retire(const std::shared_ptr<UpstreamConnection>& connection);

    static constexpr std::size_t max_idle_per_endpoint_ = 256;
    std::unordered_map<tcp::endpoint, EndpointState> endpoints_;
};

template <class KeepEndpoint>
void UpstreamPool::prune(Clock::time_point now, Clock::duration max_idle,
                         KeepEndpoint keep_endpoint) {
    for (auto it = endpoints_.begin(); it != endpoints_.end();) {
        auto& idle = it->second.idle;
        const bool keep = keep_endpoint(it->first);
        std::erase_if(idle, [&](const auto& connection) {
            if (keep && now - connection->idle_since < max_idle) {
                if (!connection->watched) watch(connection);
                return false;
            }
            error_code ignored;
            connection->socket.close(ignored);
            return true;
        });
        const auto& load = it->second.load;
        if (idle.empty() && load.in_flight == 0 && (!keep || load.passive.at_rest()))
            it = endpoints_.erase(it);
        else
            ++it;
    }
}

}  // namespace tg::proxy

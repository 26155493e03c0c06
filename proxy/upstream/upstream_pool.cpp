#include "proxy/upstream/upstream_pool.hpp"

#include <algorithm>

namespace tg::proxy {

namespace {

bool same_client(const std::optional<config::IpAddress>& kept, const config::IpAddress* wanted) {
    if (!kept || !wanted) return !kept && !wanted;
    return *kept == *wanted;
}

}  // namespace

std::shared_ptr<UpstreamConnection> UpstreamPool::lease(const tcp::endpoint& endpoint,
                                                        const config::IpAddress* proxied_for) {
    const auto found = endpoints_.find(endpoint);
    if (found == endpoints_.end()) return nullptr;
    auto& idle = found->second.idle;
    // The most recently kept first; without PROXY headers that is always the last one.
    const auto match = std::find_if(idle.rbegin(), idle.rend(), [&](const auto& connection) {
        return same_client(connection->proxied_for, proxied_for);
    });
    if (match == idle.rend()) return nullptr;
    auto connection = std::move(*match);
    idle.erase(std::next(match).base());
    ++connection->idle_epoch;  // the pending idle watch now belongs to a past life
    error_code ignored;
    connection->socket.cancel(ignored);
    return connection;
}

void UpstreamPool::keep(std::shared_ptr<UpstreamConnection> connection, Clock::time_point now) {
    auto& idle = endpoints_[connection->endpoint].idle;
    if (idle.size() >= max_idle_per_endpoint_ || connection->buffer.size() != 0) {
        error_code ignored;
        connection->socket.close(ignored);
        return;
    }
    if (connection->buffer.capacity() > UpstreamConnection::read_capacity)
        connection->buffer.shrink_to_fit();
    connection->idle_since = now;
    ++connection->idle_epoch;
    connection->watched = false;
    idle.push_back(std::move(connection));
}

void UpstreamPool::watch(const std::shared_ptr<UpstreamConnection>& connection) {
    connection->watched = true;
    // A read, not async_wait(wait_read): Asio re-arms the descriptor with epoll_ctl for every
    // wait, while a read after a read that drained the socket is queued with no syscall.
    connection->socket.async_read_some(
        asio::buffer(&connection->idle_probe, 1),
        [this, connection, epoch = connection->idle_epoch](const error_code& ec, std::size_t) {
            // Leased meanwhile (epoch moved on) or cancelled: the connection is someone else's.
            if (ec == asio::error::operation_aborted || connection->idle_epoch != epoch) return;
            retire(connection);
        });
}

void UpstreamPool::retire(const std::shared_ptr<UpstreamConnection>& connection) {
    const auto found = endpoints_.find(connection->endpoint);
    if (found != endpoints_.end()) std::erase(found->second.idle, connection);
    error_code ignored;
    connection->socket.close(ignored);
}

void UpstreamPool::close_all_idle() {
    for (auto& [_, state] : endpoints_) {
        for (auto& connection : state.idle) {
            error_code ignored;
            connection->socket.close(ignored);
        }
        state.idle.clear();
    }
}

}  // namespace tg::proxy

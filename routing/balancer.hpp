#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "config/snapshot.hpp"

/// Endpoint selection for a pool (SPEC §2 `balance`, §3 step 3): pure, the sockets and the
/// health state live in the proxy, which passes a view of them per request.
namespace tg::routing {

/// What the balancer needs to know about one endpoint of a pool.
struct EndpointView {
    bool healthy = true;
    std::uint32_t active = 0;  ///< requests in flight on this endpoint
    std::uint64_t id = 0;      ///< stable hash of the endpoint label, for rendezvous hashing
};

/// One selection: the pool's method, its endpoints and the ones this request already tried.
struct BalanceRequest {
    config::Balance method = config::Balance::round_robin;
    std::span<const EndpointView> endpoints;
    std::uint64_t tried_mask = 0;  ///< bit i: endpoint i already tried (beyond 64: never excluded)
    std::optional<std::string_view> affinity_key{};  ///< Odoo session_id for cookie_hash
    /// bit i: endpoint i failed this request after it was sent (the upstream closed or reset the
    /// connection before answering): chosen again only when no other healthy untried endpoint
    /// is left, since that failure may as well be a keep-alive the upstream had just closed.
    std::uint64_t avoid_mask = 0;
};

/// The index of the endpoint to use, or nullopt when every endpoint was already tried.
/// Untried healthy endpoints are preferred, those not in `avoid_mask` first; when none is
/// healthy an untried unhealthy one is chosen anyway, so a pool whose checks all fail degrades
/// rather than refusing everything.
/// round_robin and least_conn (fewest `active`, ties rotated) advance `round_robin_cursor`;
/// cookie_hash picks by rendezvous hash of (affinity_key, id), so removing an endpoint moves
/// only its own sessions, and falls back to least_conn without a key.
[[nodiscard]] std::optional<std::size_t> select_endpoint(const BalanceRequest& request,
                                                         std::uint64_t& round_robin_cursor);

/// The value of the `session_id` cookie in a Cookie header ("a=b; session_id=XYZ", RFC 6265
/// §4.2.1), the first one if repeated as werkzeug reads it; quotes around it are removed.
/// nullopt when absent or empty.
[[nodiscard]] std::optional<std::string_view> odoo_session_id(
    std::string_view cookie_header) noexcept;

/// 64-bit FNV-1a: deterministic across runs and builds, for endpoint ids and affinity keys.
[[nodiscard]] std::uint64_t stable_hash(std::string_view text) noexcept;

}  // namespace tg::routing

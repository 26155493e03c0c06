#pragma once

#include <chrono>
#include <cstdint>

#include "config/snapshot.hpp"

/// Per-tenant and per-client token buckets (SPEC §4), as the Generic Cell Rate Algorithm
/// (ITU-T I.371): one timestamp per bucket instead of a token count and a refill clock, so a
/// bucket is one word that a compare-and-swap can update.
namespace tg::routing {

/// A rate limit as GCRA parameters. `requests_per_second` is the refill rate r and `burst` the
/// bucket size b: from idle, b requests pass at once, then one every 1/r; idling never stores
/// more than b.
struct GcraRate {
    std::chrono::nanoseconds interval;  ///< T = 1/r, the cost of one request
    std::chrono::nanoseconds capacity;  ///< b*T, how far the TAT may run ahead of now
};

/// `limit` as GCRA parameters; `limit` must have a positive rate.
[[nodiscard]] GcraRate gcra_rate(const config::RateLimit& limit) noexcept;

/// The verdict of one GCRA step.
struct GcraStep {
    bool allowed;
    std::chrono::nanoseconds tat;          ///< the bucket's new state (unchanged when refused)
    std::chrono::nanoseconds retry_after;  ///< 0 when allowed; else until it would pass
};

/// One request of `increment` (cost × T; a replica enforcing a share of a cluster budget
/// charges more than T) against a bucket whose theoretical arrival time is `tat`: admitted when
/// max(tat, now) + increment - now <= capacity, which becomes the new TAT. A refused request
/// costs nothing. Time is a parameter, so the caller picks the clock (and tests fake it).
[[nodiscard]] GcraStep gcra_step(std::chrono::nanoseconds tat, std::chrono::nanoseconds now,
                                 std::chrono::nanoseconds increment,
                                 std::chrono::nanoseconds capacity) noexcept;

/// `cost` requests of `rate` as a GCRA increment, saturating instead of overflowing.
[[nodiscard]] std::chrono::nanoseconds gcra_increment(const GcraRate& rate,
                                                      std::uint64_t cost) noexcept;

/// One request costing `cost_milli` thousandths of `rate`'s interval (a replica holding a share s
/// of a cluster budget charges 1000/s), saturating instead of overflowing.
[[nodiscard]] std::chrono::nanoseconds gcra_scaled_increment(const GcraRate& rate,
                                                             std::uint64_t cost_milli) noexcept;

/// The TAT of a bucket whose requests now cost `new_cost` instead of `old_cost` (same unit):
/// the part ahead of `now` scales with the cost, so the bucket has still spent the same number
/// of requests. A replica whose share of a cluster budget shrinks thus keeps what it already
/// admitted charged against its smaller share instead of starting that share afresh.
[[nodiscard]] std::chrono::nanoseconds gcra_rescale(std::chrono::nanoseconds tat,
                                                    std::chrono::nanoseconds now,
                                                    std::uint64_t old_cost,
                                                    std::uint64_t new_cost) noexcept;

/// The earliest TAT of a replica's bucket (requests costing `cost_milli`) when the cluster's
/// bucket for the same budget runs `cluster_ahead` ahead of `now`: the replica may admit no
/// more than the cluster has left, whatever its share, and while the cluster is over budget it
/// waits, as the cluster does, until the excess has drained.
[[nodiscard]] std::chrono::nanoseconds gcra_cluster_floor(std::chrono::nanoseconds now,
                                                          std::chrono::nanoseconds cluster_ahead,
                                                          std::chrono::nanoseconds capacity,
                                                          std::uint64_t cost_milli) noexcept;

/// Whole seconds for a Retry-After header (RFC 9110 §10.2.3): rounded up, at least 1, since
/// "0" would invite an immediate retry that is refused again.
[[nodiscard]] std::int64_t retry_after_seconds(std::chrono::nanoseconds wait) noexcept;

}  // namespace tg::routing

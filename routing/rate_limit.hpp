#pragma once

#include <chrono>
#include <cstdint>

#include "config/snapshot.hpp"

/// Per-tenant and per-client token buckets (SPEC §4), as the Generic Cell Rate Algorithm
/// (ITU-T I.371): one timestamp per bucket instead of a token count and a refill clock.
namespace tg::routing {

/// One bucket. `requests_per_second` is the refill rate r and `burst` the bucket size b: from
/// idle, b requests pass at once, then one every 1/r; idling never stores more than b. The
/// state is the theoretical arrival time (TAT), the instant at which the bucket would be full
/// again; a request of `cost` is admitted when max(TAT, now) + cost/r - now <= b/r, and then
/// becomes the new TAT. Time is a parameter, so the caller picks the clock (and tests fake it).
/// Not thread-safe: one owner, or external locking.
class Gcra {
  public:
    /// The verdict of `admit`.
    struct Decision {
        bool allowed;
        std::chrono::nanoseconds retry_after;  ///< 0 when allowed; else until it would pass
    };

    /// Charges `cost` requests at `now` if the bucket holds them; a refused request costs
    /// nothing. A cost above `burst` is never admitted. `limit` must have a positive rate.
    Decision admit(std::chrono::nanoseconds now, const config::RateLimit& limit,
                   std::uint32_t cost = 1) noexcept;

    /// The current TAT, for reconciling buckets shared through Redis (SPEC §4).
    [[nodiscard]] std::chrono::nanoseconds theoretical_arrival() const noexcept { return tat_; }

    /// Replaces the TAT, e.g. with the later of the local and the cluster-wide one.
    void set_theoretical_arrival(std::chrono::nanoseconds tat) noexcept { tat_ = tat; }

  private:
    std::chrono::nanoseconds tat_{0};
};

/// Whole seconds for a Retry-After header (RFC 9110 §10.2.3): rounded up, at least 1, since
/// "0" would invite an immediate retry that is refused again.
[[nodiscard]] std::int64_t retry_after_seconds(std::chrono::nanoseconds wait) noexcept;

}  // namespace tg::routing

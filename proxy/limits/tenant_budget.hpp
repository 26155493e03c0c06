#pragma once

#include <atomic>
#include <cstdint>

namespace tg::proxy {

/// A named tenant's rate and in-flight state, one per process (all workers charge the same
/// bucket, so `workers: 2` admits one burst, not two) and kept across reloads while the tenant
/// stays in the config. Own cache line: workers serving other tenants never share it.
struct alignas(64) TenantBudget {
    /// The GCRA theoretical arrival time on the steady clock, in ns; updated by CAS.
    std::atomic<std::int64_t> tat_ns{0};
    /// Upstream exchanges under way (SPEC §4 max_in_flight).
    std::atomic<std::uint32_t> in_flight{0};
    /// What one request costs, in thousandths of the emission interval: 1000 alone; with Redis,
    /// the inverse of this replica's share of the cluster's demand (set by the sync).
    std::atomic<std::uint32_t> cost_milli{1000};
    /// Requests admitted and attempted, for the Redis sync (counted only when it runs).
    std::atomic<std::uint64_t> admitted{0};
    std::atomic<std::uint64_t> attempts{0};
};

}  // namespace tg::proxy

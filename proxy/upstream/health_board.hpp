#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/generation.hpp"
#include "proxy/io.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace tg::proxy {

/// The active health of every endpoint of every pool (SPEC §2 `health_check`, §3 "among healthy
/// endpoints"), one board per Generation. The control thread's HealthChecker writes the flags;
/// workers read them with relaxed loads, so the request path takes no lock and shares no written
/// cache line with another worker. Flags are laid out per pool in the order of the pool's
/// `web` and `longpolling` lists: a session reads endpoint i of the list it balances over by
/// index, with no lookup by address.
class HealthBoard {
  public:
    HealthBoard() = default;
    HealthBoard(const HealthBoard&) = delete;
    HealthBoard& operator=(const HealthBoard&) = delete;

    /// Adds pool `name` with the endpoints of `pool`, all up; returns the pool's index for
    /// web_up() and longpolling_up(). Only while the Generation is being built.
    std::size_t add_pool(std::string name, const ResolvedPool& pool);

    /// Takes from `previous` the state of every endpoint it also has, in pools actively checked
    /// in both: a reload or a DNS change neither revives a dead endpoint nor blackholes a live
    /// one. New endpoints stay up (optimistic); a pool whose check was removed is all up, since
    /// nothing would ever raise its flags again.
    void carry_over(const HealthBoard& previous);

    /// Whether endpoint `i` of pool `pool`'s `web` list passes its check. Any thread.
    bool web_up(std::size_t pool, std::size_t i) const {
        const auto& p = pools_[pool];
        return p.up[p.web[i]].load(std::memory_order_relaxed);
    }
    /// Whether endpoint `i` of pool `pool`'s `longpolling` list passes its check. Any thread.
    bool longpolling_up(std::size_t pool, std::size_t i) const {
        const auto& p = pools_[pool];
        return p.up[p.longpolling[i]].load(std::memory_order_relaxed);
    }

    /// The flag of `address` in pool `pool`, for the checker to write; null when absent.
    std::atomic<bool>* flag(std::string_view pool, const tcp::endpoint& address);
    /// The flag of `address` in pool `pool`; null when absent.
    const std::atomic<bool>* flag(std::string_view pool, const tcp::endpoint& address) const;

    /// Calls f(pool, endpoint label, up) once per distinct endpoint of each pool.
    template <class F>
    void for_each(F f) const {
        for (const auto& pool : pools_)
            for (std::size_t e = 0; e < pool.endpoints.size(); ++e)
                f(std::string_view(pool.name), std::string_view(pool.endpoints[e].label),
                  pool.up[e].load(std::memory_order_relaxed));
    }

  private:
    struct Endpoint {
        tcp::endpoint address;
        std::string label;
    };
    struct Pool {
        std::string name;
        bool checked = false;             ///< has a health_check: only then can a flag drop
        std::vector<Endpoint> endpoints;  ///< distinct addresses, web first, then longpolling
        std::unique_ptr<std::atomic<bool>[]> up;  ///< parallel to `endpoints`
        std::vector<std::uint32_t> web;           ///< web list index → `endpoints` index
        std::vector<std::uint32_t> longpolling;   ///< longpolling list index → `endpoints` index
    };
    const Pool* find(std::string_view pool) const;

    std::vector<Pool> pools_;
};

/// Appends `tenantgate_upstream_endpoint_up{pool,endpoint}` (SPEC §7): 1 while the endpoint
/// passes its pool's active check, 0 once it failed `fall` checks in a row. It reports the
/// active check only: endpoints of pools without `health_check` are always 1, and a worker's
/// passive ejection (PassiveHealth) is per worker and short-lived, so it is not a gauge.
void append_endpoint_up(const HealthBoard& board, std::vector<prometheus::MetricFamily>& families);

}  // namespace tg::proxy

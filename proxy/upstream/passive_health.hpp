#pragma once

#include <algorithm>
#include <chrono>

#include "config/snapshot.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// One worker's passive view of one endpoint (outlier ejection, as Envoy's consecutive gateway
/// failures): `fall` failed exchanges in a row eject the endpoint for a backoff of 5 s, doubled
/// at each ejection that follows without a success in between, up to 60 s. When the backoff
/// has passed the endpoint is eligible again and the next exchange is the probe: one more
/// failure ejects it again at once, a success forgets everything. Pure: time is a parameter.
/// It covers pools without `health_check` and the seconds before an active check notices.
class PassiveHealth {
  public:
    /// Failures in a row that eject, for a pool without `health_check` (else its `fall`).
    static constexpr int default_fall = 3;
    static constexpr Clock::duration first_backoff = std::chrono::seconds(5);
    static constexpr Clock::duration max_backoff = std::chrono::seconds(60);

    /// False while the endpoint is ejected.
    bool available(Clock::time_point now) const { return now >= ejected_until_; }

    /// Counts the outcome of one exchange with the endpoint, `fall` as configured.
    void record(bool success, Clock::time_point now, int fall = default_fall) {
        if (success) {
            *this = PassiveHealth{};
            return;
        }
        // Exchanges that were already under way when the endpoint was ejected tell nothing new:
        // they must not double the backoff.
        if (now < ejected_until_) return;
        failures_ = std::min(failures_ + 1, std::max(fall, 1));
        if (failures_ < fall) return;
        ejected_until_ = now + std::min(max_backoff, first_backoff * (1 << ejections_));
        ejections_ = std::min(ejections_ + 1, max_doublings_);
    }

    /// True when nothing is remembered (no failure counted, no backoff to double): the state
    /// may be dropped with the endpoint's other per-worker state.
    bool at_rest() const { return failures_ == 0 && ejections_ == 0; }

    /// Whether an upstream response status counts as a failure of the endpoint: only gateway
    /// failures (502, 503, 504). Odoo answers 500 for an exception in one database's code; all
    /// endpoints run the same code, so ejecting one for it would only shift load.
    static bool failed_status(unsigned status) { return status >= 502 && status <= 504; }

  private:
    static constexpr int max_doublings_ = 4;  ///< 5 s << 4 = 80 s, past max_backoff
    int failures_ = 0;                        ///< consecutive, saturated at `fall`
    int ejections_ = 0;                       ///< consecutive ejections without a success
    Clock::time_point ejected_until_{};
};

/// The `fall` of passive ejection for `pool`: its health_check's, else the default.
inline int passive_fall(const config::Pool& pool) {
    return pool.health_check ? pool.health_check->fall : PassiveHealth::default_fall;
}

}  // namespace tg::proxy

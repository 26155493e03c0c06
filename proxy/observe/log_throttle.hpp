#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>

namespace tg::proxy {

/// At most one log line per interval from a noisy source (a client that keeps sending what a
/// listener refuses), shared by every worker without a lock. The line that passes carries how
/// many were held back since the previous one, so nothing goes unnoticed.
class LogThrottle {
  public:
    using Clock = std::chrono::steady_clock;

    explicit LogThrottle(Clock::duration interval = std::chrono::seconds(1))
        : interval_(interval.count()) {}
    LogThrottle(const LogThrottle&) = delete;
    LogThrottle& operator=(const LogThrottle&) = delete;

    /// Whether a line may be written at `now`; if so, `held_back` is how many were not since
    /// the last one written.
    bool admit(Clock::time_point now, std::uint64_t& held_back) {
        const Clock::rep at = now.time_since_epoch().count();
        Clock::rep next = next_.load(std::memory_order_relaxed);
        if (at < next ||
            !next_.compare_exchange_strong(next, at + interval_, std::memory_order_relaxed)) {
            held_back_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        held_back = held_back_.exchange(0, std::memory_order_relaxed);
        return true;
    }

  private:
    const Clock::rep interval_;
    std::atomic<Clock::rep> next_{std::numeric_limits<Clock::rep>::min()};
    std::atomic<std::uint64_t> held_back_{0};
};

}  // namespace tg::proxy

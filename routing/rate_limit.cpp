#include "routing/rate_limit.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace tg::routing {
namespace {

using std::chrono::nanoseconds;
using Ticks = nanoseconds::rep;

constexpr Ticks max_ticks = std::numeric_limits<Ticks>::max();
constexpr Ticks min_ticks = std::numeric_limits<Ticks>::min();
/// One request per 1e15 ns (about 11.6 days) is the slowest rate represented; slower ones are
/// rounded up to it, keeping every product below in range.
constexpr double max_interval = 1e15;

Ticks saturating_add(Ticks a, Ticks b) {
    Ticks sum = 0;
    if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? max_ticks : min_ticks;
    return sum;
}

Ticks saturating_sub(Ticks a, Ticks b) {
    Ticks difference = 0;
    if (__builtin_sub_overflow(a, b, &difference)) return b < 0 ? max_ticks : min_ticks;
    return difference;
}

}  // namespace

GcraRate gcra_rate(const config::RateLimit& limit) noexcept {
    assert(limit.requests_per_second > 0 && limit.burst >= 0);
    // T is rounded once; the bucket then holds exactly b*T, so an integral burst b admits
    // exactly b requests from idle whatever the rounding of T.
    const double interval_ns = limit.requests_per_second > 0
                                   ? std::min(1e9 / limit.requests_per_second, max_interval)
                                   : max_interval;
    const Ticks interval = std::max<Ticks>(1, std::llround(interval_ns));
    const double capacity_ns = limit.burst > 0 ? limit.burst * static_cast<double>(interval) : 0;
    return {nanoseconds(interval), nanoseconds(std::llround(std::min(capacity_ns, 9e18)))};
}

nanoseconds gcra_increment(const GcraRate& rate, std::uint64_t cost) noexcept {
    Ticks product = 0;
    if (cost > static_cast<std::uint64_t>(max_ticks) ||
        __builtin_mul_overflow(static_cast<Ticks>(cost), rate.interval.count(), &product))
        return nanoseconds(max_ticks);
    return nanoseconds(product);
}

nanoseconds gcra_scaled_increment(const GcraRate& rate, std::uint64_t cost_milli) noexcept {
    const auto product = static_cast<unsigned __int128>(rate.interval.count()) * cost_milli / 1000;
    return nanoseconds(static_cast<Ticks>(std::min<unsigned __int128>(product, max_ticks)));
}

nanoseconds gcra_rescale(nanoseconds tat, nanoseconds now, std::uint64_t old_cost,
                         std::uint64_t new_cost) noexcept {
    if (tat <= now || old_cost == new_cost || old_cost == 0) return tat;
    const auto ahead = static_cast<unsigned __int128>(saturating_sub(tat.count(), now.count())) *
                       new_cost / old_cost;
    return nanoseconds(saturating_add(
        now.count(), static_cast<Ticks>(std::min<unsigned __int128>(ahead, max_ticks))));
}

nanoseconds gcra_cluster_floor(nanoseconds now, nanoseconds cluster_ahead, nanoseconds capacity,
                               std::uint64_t cost_milli) noexcept {
    if (cluster_ahead >= capacity)
        return nanoseconds(saturating_add(now.count(), cluster_ahead.count()));
    // What the cluster has left, in this replica's time: its bucket must keep no more free.
    const auto left = saturating_sub(capacity.count(), std::max<Ticks>(cluster_ahead.count(), 0));
    const auto left_here = static_cast<unsigned __int128>(left) * cost_milli / 1000;
    if (left_here >= static_cast<unsigned __int128>(capacity.count())) return now;
    return nanoseconds(
        saturating_add(now.count(), capacity.count() - static_cast<Ticks>(left_here)));
}

GcraStep gcra_step(nanoseconds tat, nanoseconds now, nanoseconds increment,
                   nanoseconds capacity) noexcept {
    const Ticks base = std::max(tat.count(), now.count());
    const Ticks next_tat = saturating_add(base, increment.count());
    const Ticks ahead = saturating_sub(next_tat, now.count());
    if (ahead <= capacity.count()) return {true, nanoseconds(next_tat), nanoseconds(0)};
    return {false, tat, nanoseconds(ahead - capacity.count())};
}

std::int64_t retry_after_seconds(nanoseconds wait) noexcept {
    constexpr Ticks per_second = 1'000'000'000;
    if (wait.count() <= 0) return 1;
    const Ticks seconds = wait.count() / per_second + (wait.count() % per_second != 0 ? 1 : 0);
    return std::max<Ticks>(1, seconds);
}

}  // namespace tg::routing

#include "routing/freeze_window.hpp"

#include <algorithm>

namespace tg::routing {
namespace {

using namespace std::chrono;

/// Whether `date` is one of `days`: 1..31 from the start of the month, -1.. from its end.
bool is_listed_day(const std::vector<int>& days, const year_month_day& date) {
    const int day = static_cast<int>(static_cast<unsigned>(date.day()));
    const int last = static_cast<int>(static_cast<unsigned>(
        year_month_day_last(date.year(), month_day_last(date.month())).day()));
    return std::any_of(days.begin(), days.end(), [&](int listed) {
        return listed > 0 ? listed == day : last + 1 + listed == day;
    });
}

/// When the occurrence of `window` that holds `now` closes (the minute after `to_minute`, in
/// UTC); nullopt when no occurrence holds `now`.
std::optional<system_clock::time_point> occurrence_end(const config::FreezeWindow& window,
                                                       system_clock::time_point now) {
    const minutes offset(window.utc_offset_minutes);
    const auto local = floor<minutes>(now) + offset;
    const sys_days local_day = floor<days>(local);
    const int minute = static_cast<int>((local - local_day).count());
    const auto close_on = [&](sys_days day) {
        return system_clock::time_point(day + minutes(window.to_minute + 1) - offset);
    };
    if (window.from_minute <= window.to_minute) {
        if (minute < window.from_minute || minute > window.to_minute) return std::nullopt;
        if (!is_listed_day(window.days_of_month, year_month_day(local_day))) return std::nullopt;
        return close_on(local_day);
    }
    // Crossing midnight: the evening part opens on a listed day, the morning part belongs to
    // the day before.
    if (minute >= window.from_minute &&
        is_listed_day(window.days_of_month, year_month_day(local_day))) {
        return close_on(local_day + days(1));
    }
    if (minute <= window.to_minute &&
        is_listed_day(window.days_of_month, year_month_day(local_day - days(1)))) {
        return close_on(local_day);
    }
    return std::nullopt;
}

/// The first window holding `now`, with the end of its occurrence.
std::optional<std::pair<const config::FreezeWindow*, system_clock::time_point>> first_holding(
    std::span<const config::FreezeWindow> windows, system_clock::time_point now) {
    for (const config::FreezeWindow& window : windows) {
        if (const auto end = occurrence_end(window, now)) return std::pair{&window, *end};
    }
    return std::nullopt;
}

}  // namespace

std::optional<FreezeHit> active_freeze_window(std::span<const config::FreezeWindow> windows,
                                              system_clock::time_point now) {
    const auto first = first_holding(windows, now);
    if (!first) return std::nullopt;
    FreezeHit hit{first->first->name, first->second};
    // Each step moves at least a minute ahead; a window listing every day never ends, so stop
    // looking a year on.
    const auto horizon = now + days(366);
    while (hit.ends < horizon) {
        system_clock::time_point later = hit.ends;
        for (const config::FreezeWindow& window : windows) {
            if (const auto end = occurrence_end(window, hit.ends)) later = std::max(later, *end);
        }
        if (later == hit.ends) break;
        hit.ends = later;
    }
    return hit;
}

}  // namespace tg::routing

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

bool contains(const config::FreezeWindow& window, system_clock::time_point now) {
    const auto local = floor<minutes>(now) + minutes(window.utc_offset_minutes);
    const sys_days local_day = floor<days>(local);
    const int minute = static_cast<int>((local - local_day).count());
    return minute >= window.from_minute && minute <= window.to_minute &&
           is_listed_day(window.days_of_month, year_month_day(local_day));
}

}  // namespace

std::optional<std::string_view> active_freeze_window(std::span<const config::FreezeWindow> windows,
                                                     system_clock::time_point now) {
    for (const config::FreezeWindow& window : windows) {
        if (contains(window, now)) return window.name;
    }
    return std::nullopt;
}

}  // namespace tg::routing

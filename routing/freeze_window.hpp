#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string_view>

#include "config/snapshot.hpp"

/// Release-freeze windows (SPEC §5): switches are refused inside them unless forced.
namespace tg::routing {

/// The window a switch ran into and the first instant at which no window holds any more.
struct FreezeHit {
    std::string_view name;
    std::chrono::system_clock::time_point ends;
};

/// The first window that contains `now`, read in the window's fixed UTC offset. A window opens
/// at `from_minute` of each listed day of the month and stays open through `to_minute`
/// (inclusive); when `to_minute` is before `from_minute` it closes on the next day, so
/// "22:00"–"02:00" crosses midnight. Days count from 1, or back from the month's end with -1 as
/// the last day, so month ends work in 28-, 29-, 30- and 31-day months alike; a day beyond the
/// month (31 in April, -30 in February) is skipped that month. `ends` follows back-to-back
/// windows (a freeze on the 30th, 31st and 1st ends on the 2nd), bounded to a year ahead.
[[nodiscard]] std::optional<FreezeHit> active_freeze_window(
    std::span<const config::FreezeWindow> windows, std::chrono::system_clock::time_point now);

}  // namespace tg::routing

#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string_view>

#include "config/snapshot.hpp"

/// Release-freeze windows (SPEC §5): switches are refused inside them unless forced.
namespace tg::routing {

/// The name of the first window that contains `now`, read in the window's fixed UTC offset.
/// A window covers minutes `from_minute`..`to_minute` (both inclusive) of each listed day of
/// the month; -1 is the month's last day, -2 the one before, so month ends work in 28-, 29-,
/// 30- and 31-day months alike; a day beyond the month (31 in April, -30 in February) is
/// skipped that month. Windows do not cross midnight (the config splits them in two).
[[nodiscard]] std::optional<std::string_view> active_freeze_window(
    std::span<const config::FreezeWindow> windows, std::chrono::system_clock::time_point now);

}  // namespace tg::routing

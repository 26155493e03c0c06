#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.hpp"

/// Parsers for the unit-suffixed scalars of SPEC §2 ("30s", "64KiB"). Pure functions.
namespace tg::config {

/// "500ms", "30s", "5m", "1h" or a sum of them written largest first ("1m30s"). Integers only;
/// a bare number, a negative value or one that overflows yields nullopt.
std::optional<Duration> parse_duration(std::string_view text);

/// "512B", "64KiB", "100MiB", "1GiB", "1TiB" or a plain integer byte count. IEC units only
/// ("64KB" is rejected rather than guessed); overflow yields nullopt.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The inverse of parse_duration, largest units first: 90s -> "1m30s", 0 -> "0s".
std::string format_duration(Duration duration);

}  // namespace tg::config

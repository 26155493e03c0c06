#include "config/units.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace tg::config {
namespace {

/// Reads the leading run of decimal digits; nullopt when there is none or it overflows.
std::optional<std::uint64_t> take_digits(std::string_view& text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    return value;
}

/// a * b + c without wrapping, or nullopt.
std::optional<std::uint64_t> mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c,
                                     std::uint64_t max) {
    if (b != 0 && a > (max - c) / b) return std::nullopt;
    return a * b + c;
}

struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    // Longest suffix first so that "ms" is not read as "m" followed by garbage.
    static constexpr std::array<Unit, 4> units{
        {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
    if (text.empty()) return std::nullopt;
    std::uint64_t total = 0;
    std::uint64_t previous_factor = std::numeric_limits<std::uint64_t>::max();
    while (!text.empty()) {
        const auto value = take_digits(text);
        if (!value) return std::nullopt;
        const Unit* unit = nullptr;
        for (const auto& candidate : units) {
            if (text.starts_with(candidate.suffix)) {
                unit = &candidate;
                break;
            }
        }
        // Each component needs a unit, and units go from largest to smallest ("1m30s").
        if (unit == nullptr || unit->factor >= previous_factor) return std::nullopt;
        text.remove_prefix(unit->suffix.size());
        previous_factor = unit->factor;
        const auto sum = mul_add(*value, unit->factor, total, max);
        if (!sum) return std::nullopt;
        total = *sum;
    }
    return Duration{static_cast<Duration::rep>(total)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    static constexpr std::array<Unit, 5> units{{{"B", 1},
                                                {"KiB", 1ull << 10},
                                                {"MiB", 1ull << 20},
                                                {"GiB", 1ull << 30},
                                                {"TiB", 1ull << 40}}};
    const auto value = take_digits(text);
    if (!value) return std::nullopt;
    if (text.empty()) return value;
    for (const auto& unit : units) {
        if (text == unit.suffix) {
            return mul_add(*value, unit.factor, 0, std::numeric_limits<std::uint64_t>::max());
        }
    }
    return std::nullopt;
}

std::string format_duration(Duration duration) {
    static constexpr std::array<Unit, 4> units{
        {{"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}}};
    auto rest = static_cast<std::uint64_t>(std::max<Duration::rep>(duration.count(), 0));
    if (rest == 0) return "0s";
    std::string text;
    for (const auto& unit : units) {
        if (rest >= unit.factor) {
            text += std::to_string(rest / unit.factor) + std::string(unit.suffix);
            rest %= unit.factor;
        }
    }
    return text;
}

}  // namespace tg::config

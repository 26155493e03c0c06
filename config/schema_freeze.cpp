#include <cctype>
#include <limits>

#include "config/schema.hpp"

namespace tg::config::detail {
namespace {

/// "HH:MM" with exactly two digits each; nullopt when malformed. No range check.
std::optional<std::pair<int, int>> split_clock(std::string_view text) {
    const auto digit = [&](std::size_t i) {
        return std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    };
    if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
        return std::nullopt;
    }
    return std::pair{(text[0] - '0') * 10 + (text[1] - '0'),
                     (text[3] - '0') * 10 + (text[4] - '0')};
}

/// "00:00".."23:59" -> minutes after midnight.
std::optional<int> read_clock(const std::optional<Field>& field, Diagnostics& diag) {
    const auto text = read_string(field, diag);
    if (!text) return std::nullopt;
    const auto clock = split_clock(*text);
    if (!clock || clock->first > 23 || clock->second > 59) {
        diag.error(
            field->mark, field->path,
            "invalid time " + in_quotes(*text) + " (expected HH:MM between 00:00 and 23:59)");
        return std::nullopt;
    }
    return clock->first * 60 + clock->second;
}

/// "UTC" -> 0, "+02:00" -> 120, "-05:30" -> -330. Named zones would need a tz database and
/// change with DST; freeze windows are audited decisions, so they use fixed offsets.
std::optional<int> read_utc_offset(const std::optional<Field>& field, Diagnostics& diag) {
    const auto text = read_string(field, diag);
    if (!text) return std::nullopt;
    if (*text == "UTC") return 0;
    if (text->size() == 6 && ((*text)[0] == '+' || (*text)[0] == '-')) {
        const auto clock = split_clock(std::string_view(*text).substr(1));
        if (clock && clock->first <= 14 && clock->second <= 59) {
            const int minutes = clock->first * 60 + clock->second;
            return (*text)[0] == '-' ? -minutes : minutes;
        }
    }
    diag.error(field->mark, field->path,
               "unsupported timezone " + in_quotes(*text) +
                   ": only UTC or a fixed offset like \"+02:00\" is supported");
    return std::nullopt;
}

std::vector<int> read_days(const std::optional<Field>& field, Diagnostics& diag) {
    std::vector<int> days;
    const auto items = list_items(field, diag);
    if (field && items.empty() && !diag.failed(field->path)) {
        diag.error(field->mark, field->path, "must list at least one day");
    }
    for (const auto& item : items) {
        const auto day = read_int(item, std::numeric_limits<std::int64_t>::min(),
                                  std::numeric_limits<std::int64_t>::max(), diag);
        if (!day) continue;
        if (*day == 0 || *day < -31 || *day > 31) {
            diag.error(item.mark, item.path,
                       "invalid day " + std::to_string(*day) +
                           " (expected 1..31, or -1..-31 counting back from the month's last day)");
            continue;
        }
        days.push_back(static_cast<int>(*day));
    }
    return days;
}

FreezeWindow parse_freeze_window(const Field& field, Diagnostics& diag) {
    FreezeWindow window;
    const MapReader map(field, {"name", "days_of_month", "from", "to", "timezone"}, diag);
    set_if(read_string(map.require("name"), diag), window.name);
    window.days_of_month = read_days(map.require("days_of_month"), diag);
    set_if(read_clock(map.get("from"), diag), window.from_minute);
    set_if(read_clock(map.get("to"), diag), window.to_minute);
    const auto timezone = map.get("timezone");
    if (const auto offset = read_utc_offset(timezone, diag)) {
        window.timezone = timezone->node.Scalar();
        window.utc_offset_minutes = *offset;
    }
    return window;
}

}  // namespace

std::vector<FreezeWindow> parse_freeze_windows(const std::optional<Field>& field,
                                               Diagnostics& diag) {
    std::vector<FreezeWindow> windows;
    for (const auto& item : list_items(field, diag))
        windows.push_back(parse_freeze_window(item, diag));
    return windows;
}

}  // namespace tg::config::detail

#include "config/yaml_fields.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "config/net.hpp"
#include "config/units.hpp"

namespace tg::config::detail {
namespace {

/// "a list", "a map", "nothing" or the quoted scalar, for "expected X, got Y".
std::string describe_node(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            return in_quotes(node.Scalar());
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

/// Scalars point at the value; collections and empty values at their key, where the eye goes.
YAML::Mark field_mark(const YAML::Node& value, const YAML::Mark& key_mark) {
    return value.IsScalar() ? value.Mark() : key_mark;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string unknown_key_message(std::string_view key,
                                std::initializer_list<std::string_view> allowed) {
    std::string message = "unknown key " + in_quotes(key);
    const auto best = std::min_element(allowed.begin(), allowed.end(), [&](auto a, auto b) {
        return edit_distance(key, a) < edit_distance(key, b);
    });
    if (best != allowed.end() && edit_distance(key, *best) <= 2 && key.size() > 2) {
        message += " (did you mean " + in_quotes(*best) + "?)";
    }
    return message;
}

/// The scalar text of a present field, reporting anything else as `expected <what>`.
std::optional<std::string> scalar_of(const std::optional<Field>& field, std::string_view what,
                                     Diagnostics& diag) {
    if (!field) return std::nullopt;
    if (!field->node.IsScalar()) {
        diag.error(field->mark, field->path,
                   "expected " + std::string(what) + ", got " + describe_node(field->node));
        return std::nullopt;
    }
    return field->node.Scalar();
}

/// "64KiB" for exact multiples, else the byte count.
std::string format_size(std::uint64_t bytes) {
    static constexpr std::pair<std::uint64_t, std::string_view> units[] = {
        {1ull << 40, "TiB"}, {1ull << 30, "GiB"}, {1ull << 20, "MiB"}, {1ull << 10, "KiB"}};
    for (const auto& [factor, suffix] : units) {
        if (bytes != 0 && bytes % factor == 0)
            return std::to_string(bytes / factor) + std::string(suffix);
    }
    return std::to_string(bytes) + "B";
}

}  // namespace

std::string child_path(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    std::string path(parent);
    path += '.';
    path += key;
    return path;
}

std::string index_path(std::string_view parent, std::size_t index) {
    return std::string(parent) + "[" + std::to_string(index) + "]";
}

Field root_field(const YAML::Node& root, Diagnostics& diag) {
    Field field{root, "", root.Mark()};
    diag.remember(field.path, field.mark);
    return field;
}

MapReader::MapReader(const Field& map, std::initializer_list<std::string_view> allowed,
                     Diagnostics& diag)
    : path_(map.path), mark_(map.mark), diag_(diag) {
    if (!map.node.IsDefined() || map.node.IsNull()) {
        is_map_ = true;
        return;
    }
    if (!map.node.IsMap()) {
        diag_.error(mark_, path_, "expected a map, got " + describe_node(map.node));
        return;
    }
    is_map_ = true;
    for (auto it = map.node.begin(); it != map.node.end(); ++it) {
        // `it->` yields a temporary proxy: copy the nodes (cheap handles) out of it.
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        if (!key.IsScalar()) {
            diag_.error(key.Mark(), path_, "expected a key name, got " + describe_node(key));
            continue;
        }
        const std::string& name = key.Scalar();
        std::string path = child_path(path_, name);
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            diag_.error(key.Mark(), std::move(path), unknown_key_message(name, allowed));
            continue;
        }
        if (get(name)) {
            diag_.error(key.Mark(), std::move(path), "duplicate key " + in_quotes(name));
            continue;
        }
        Field field{value, std::move(path), field_mark(value, key.Mark())};
        diag_.remember(field.path, field.mark);
        entries_.emplace_back(name, std::move(field));
    }
}

std::optional<Field> MapReader::get(std::string_view key) const {
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const auto& entry) { return entry.first == key; });
    if (it == entries_.end()) return std::nullopt;
    return it->second;
}

std::optional<Field> MapReader::require(std::string_view key) const {
    auto value = get(key);
    if (!value && is_map_) diag_.error(mark_, path_, "missing required key " + in_quotes(key));
    return value;
}

void MapReader::require_one_of(std::string_view first, std::string_view second) const {
    if (!is_map_) return;
    const bool has_first = get(first).has_value();
    const bool has_second = get(second).has_value();
    const std::string names = in_quotes(first) + " or " + in_quotes(second);
    if (has_first && has_second) diag_.error(mark_, path_, "set either " + names + ", not both");
    if (!has_first && !has_second) diag_.error(mark_, path_, "missing " + names);
}

std::vector<std::pair<std::string, Field>> named_entries(const std::optional<Field>& map,
                                                         Diagnostics& diag) {
    std::vector<std::pair<std::string, Field>> entries;
    if (!map || map->node.IsNull()) return entries;
    if (!map->node.IsMap()) {
        diag.error(map->mark, map->path,
                   "expected a map of names, got " + describe_node(map->node));
        return entries;
    }
    for (auto it = map->node.begin(); it != map->node.end(); ++it) {
        // `it->` yields a temporary proxy: copy the nodes (cheap handles) out of it.
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        if (!key.IsScalar() || key.Scalar().empty()) {
            diag.error(key.Mark(), map->path, "expected a name, got " + describe_node(key));
            continue;
        }
        std::string path = child_path(map->path, key.Scalar());
        const bool duplicate = std::any_of(entries.begin(), entries.end(),
                                           [&](const auto& e) { return e.first == key.Scalar(); });
        if (duplicate) {
            diag.error(key.Mark(), std::move(path), "duplicate name " + in_quotes(key.Scalar()));
            continue;
        }
        Field field{value, std::move(path), field_mark(value, key.Mark())};
        diag.remember(field.path, field.mark);
        entries.emplace_back(key.Scalar(), std::move(field));
    }
    return entries;
}

std::vector<Field> list_items(const std::optional<Field>& list, Diagnostics& diag) {
    std::vector<Field> items;
    if (!list || list->node.IsNull()) return items;
    if (!list->node.IsSequence()) {
        diag.error(list->mark, list->path, "expected a list, got " + describe_node(list->node));
        return items;
    }
    std::size_t index = 0;
    for (const auto& element : list->node) {
        // An empty element ("- ") has no position of its own; point at the list.
        const YAML::Mark mark = element.IsNull() ? list->mark : element.Mark();
        Field item{element, index_path(list->path, index++), mark};
        diag.remember(item.path, item.mark);
        items.push_back(std::move(item));
    }
    return items;
}

std::optional<std::string> read_string(const std::optional<Field>& field, Diagnostics& diag,
                                       bool allow_empty) {
    auto text = scalar_of(field, "a string", diag);
    if (text && text->empty() && !allow_empty) {
        diag.error(field->mark, field->path, "must not be empty");
        return std::nullopt;
    }
    return text;
}

std::optional<bool> read_bool(const std::optional<Field>& field, Diagnostics& diag) {
    const auto text = scalar_of(field, "true or false", diag);
    if (!text) return std::nullopt;
    if (*text == "true" || *text == "True" || *text == "TRUE") return true;
    if (*text == "false" || *text == "False" || *text == "FALSE") return false;
    diag.error(field->mark, field->path, "expected true or false, got " + in_quotes(*text));
    return std::nullopt;
}

std::optional<std::int64_t> read_int(const std::optional<Field>& field, std::int64_t min,
                                     std::int64_t max, Diagnostics& diag) {
    const auto text = scalar_of(field, "an integer", diag);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || text->empty()) {
        diag.error(field->mark, field->path, "expected an integer, got " + in_quotes(*text));
        return std::nullopt;
    }
    if (value < min || value > max) {
        diag.error(field->mark, field->path,
                   max == std::numeric_limits<std::int64_t>::max()
                       ? "must be at least " + std::to_string(min) + ", got " + *text
                       : "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                             ", got " + *text);
        return std::nullopt;
    }
    return value;
}

std::optional<double> read_positive_number(const std::optional<Field>& field, Diagnostics& diag) {
    const auto text = scalar_of(field, "a number", diag);
    if (!text) return std::nullopt;
    double value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || end != text->data() + text->size() || text->empty() ||
        !std::isfinite(value)) {
        diag.error(field->mark, field->path, "expected a number, got " + in_quotes(*text));
        return std::nullopt;
    }
    if (value <= 0) {
        diag.error(field->mark, field->path, "must be greater than 0, got " + *text);
        return std::nullopt;
    }
    return value;
}

std::optional<Duration> read_duration(const std::optional<Field>& field, Diagnostics& diag,
                                      bool allow_zero) {
    const auto text = scalar_of(field, "a duration", diag);
    if (!text) return std::nullopt;
    const auto value = parse_duration(*text);
    if (!value) {
        diag.error(field->mark, field->path,
                   "invalid duration " + in_quotes(*text) + " (use e.g. 500ms, 30s, 5m, 1h)");
        return std::nullopt;
    }
    if (value->count() == 0 && !allow_zero) {
        diag.error(field->mark, field->path, "must be greater than 0");
        return std::nullopt;
    }
    return value;
}

std::optional<std::uint64_t> read_size(const std::optional<Field>& field, std::uint64_t min,
                                       std::uint64_t max, Diagnostics& diag) {
    const auto text = scalar_of(field, "a size", diag);
    if (!text) return std::nullopt;
    const auto value = parse_size(*text);
    if (!value) {
        diag.error(field->mark, field->path,
                   "invalid size " + in_quotes(*text) + " (use e.g. 512B, 64KiB, 100MiB, 1GiB)");
        return std::nullopt;
    }
    if (*value < min || *value > max) {
        diag.error(field->mark, field->path,
                   max == std::numeric_limits<std::uint64_t>::max()
                       ? "must be at least " + format_size(min) + ", got " + *text
                       : "must be between " + format_size(min) + " and " + format_size(max) +
                             ", got " + *text);
        return std::nullopt;
    }
    return value;
}

std::optional<HostPort> read_host_port(const std::optional<Field>& field, bool allow_port_zero,
                                       Diagnostics& diag) {
    const auto text = scalar_of(field, "host:port", diag);
    if (!text) return std::nullopt;
    switch (check_host_port(*text, allow_port_zero)) {
        case HostPortError::none:
            return parse_host_port(*text, allow_port_zero);
        case HostPortError::missing_port:
            diag.error(field->mark, field->path,
                       "missing port in " + in_quotes(*text) + " (expected host:port)");
            break;
        case HostPortError::bad_port:
            diag.error(field->mark, field->path,
                       "invalid port in " + in_quotes(*text) +
                           (allow_port_zero ? " (expected 0-65535, 0: any free port)"
                                            : " (expected 1-65535)"));
            break;
        case HostPortError::bad_host:
            diag.error(field->mark, field->path,
                       "invalid host in " + in_quotes(*text) +
                           " (expected an IPv4 address, a DNS name or [IPv6])");
            break;
    }
    return std::nullopt;
}

std::optional<Cidr> read_cidr(const std::optional<Field>& field, Diagnostics& diag) {
    const auto text = scalar_of(field, "a CIDR", diag);
    if (!text) return std::nullopt;
    auto cidr = parse_cidr(*text);
    if (!cidr) {
        diag.error(
            field->mark, field->path,
            "invalid CIDR " + in_quotes(*text) + " (expected e.g. 10.0.0.0/8 or 2001:db8::/32)");
    }
    return cidr;
}

std::optional<std::size_t> read_choice(const std::optional<Field>& field,
                                       std::span<const std::string_view> allowed,
                                       Diagnostics& diag) {
    const auto text = scalar_of(field, "a string", diag);
    if (!text) return std::nullopt;
    const auto it = std::find(allowed.begin(), allowed.end(), *text);
    if (it != allowed.end()) return static_cast<std::size_t>(it - allowed.begin());
    std::string expected;
    for (const auto& name : allowed)
        expected += (expected.empty() ? "" : " | ") + std::string(name);
    diag.error(field->mark, field->path,
               "invalid value " + in_quotes(*text) + " (expected " + expected + ")");
    return std::nullopt;
}

std::vector<Cidr> read_cidr_list(const std::optional<Field>& field, Diagnostics& diag) {
    std::vector<Cidr> cidrs;
    for (const auto& item : list_items(field, diag)) {
        if (auto cidr = read_cidr(item, diag)) cidrs.push_back(std::move(*cidr));
    }
    return cidrs;
}

}  // namespace tg::config::detail

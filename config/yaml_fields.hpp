#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.hpp"
#include "config/snapshot.hpp"

/// First-pass building blocks: typed reads of YAML nodes that report a positioned error with
/// the key path and return nullopt, so a section parser reads top to bottom without branches.
namespace tg::config::detail {

/// "tenants" + "acme" -> "tenants.acme"; "" + "workers" -> "workers".
std::string child_path(std::string_view parent, std::string_view key);
/// "pools.shared-eu.web" + 2 -> "pools.shared-eu.web[2]".
std::string index_path(std::string_view parent, std::size_t index);

/// A YAML node with its key path and position (the key's position when the value is empty).
struct Field {
    YAML::Node node;
    std::string path;
    YAML::Mark mark;
};

/// The root document as a Field.
Field root_field(const YAML::Node& root, Diagnostics& diag);

/// One YAML map checked against the keys its section accepts. A null node reads as an empty
/// map; anything else that is not a map is reported once and then reads as empty too.
class MapReader {
  public:
    MapReader(const Field& map, std::initializer_list<std::string_view> allowed, Diagnostics& diag);

    /// The value of `key`, if written.
    std::optional<Field> get(std::string_view key) const;
    /// As get(), reporting `missing required key` at the map when absent.
    std::optional<Field> require(std::string_view key) const;
    /// Reports unless exactly one of two alternative keys is written ("pool" or "release").
    void require_one_of(std::string_view first, std::string_view second) const;

  private:
    std::string path_;
    YAML::Mark mark_;
    Diagnostics& diag_;
    bool is_map_ = false;
    std::vector<std::pair<std::string, Field>> entries_;
};

/// The entries of a name-keyed map (pools, tenants) in file order; null reads as empty.
std::vector<std::pair<std::string, Field>> named_entries(const std::optional<Field>& map,
                                                         Diagnostics& diag);
/// The elements of a list; null or absent reads as empty.
std::vector<Field> list_items(const std::optional<Field>& list, Diagnostics& diag);

// Scalar readers: absent field -> nullopt silently; bad value -> positioned error + nullopt.

std::optional<std::string> read_string(const std::optional<Field>& field, Diagnostics& diag,
                                       bool allow_empty = false);
std::optional<bool> read_bool(const std::optional<Field>& field, Diagnostics& diag);
std::optional<std::int64_t> read_int(const std::optional<Field>& field, std::int64_t min,
                                     std::int64_t max, Diagnostics& diag);
/// A finite number strictly greater than 0 (rates).
std::optional<double> read_positive_number(const std::optional<Field>& field, Diagnostics& diag);
std::optional<Duration> read_duration(const std::optional<Field>& field, Diagnostics& diag,
                                      bool allow_zero = false);
std::optional<std::uint64_t> read_size(const std::optional<Field>& field, std::uint64_t min,
                                       std::uint64_t max, Diagnostics& diag);
std::optional<HostPort> read_host_port(const std::optional<Field>& field, bool allow_port_zero,
                                       Diagnostics& diag);
std::optional<Cidr> read_cidr(const std::optional<Field>& field, Diagnostics& diag);
/// Index of the value in `allowed`, reporting `invalid value "x" (expected a | b)` otherwise.
std::optional<std::size_t> read_choice(const std::optional<Field>& field,
                                       std::span<const std::string_view> allowed,
                                       Diagnostics& diag);

/// The enumerator spelled by the value, e.g. read_enum<Balance>(f, {{"least_conn", ...}}).
template <class E>
std::optional<E> read_enum(const std::optional<Field>& field,
                           std::initializer_list<std::pair<std::string_view, E>> choices,
                           Diagnostics& diag) {
    std::vector<std::string_view> names;
    for (const auto& choice : choices) names.push_back(choice.first);
    const auto index = read_choice(field, names, diag);
    if (!index) return std::nullopt;
    return std::data(choices)[*index].second;
}

/// A list of CIDRs (trusted_proxies, maintenance_bypass); bad entries are reported and skipped.
std::vector<Cidr> read_cidr_list(const std::optional<Field>& field, Diagnostics& diag);

/// Stores a successfully read value, keeping the default otherwise.
template <class T, class U>
void set_if(const std::optional<U>& value, T& target) {
    if (value) target = static_cast<T>(*value);
}

}  // namespace tg::config::detail

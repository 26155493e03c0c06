#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>
#include <boost/json/value.hpp>

/// A runtime tenant's definition (SPEC §6) between its two spellings: the admin API's JSON and
/// the config file's YAML, which config::parse_runtime_tenant reads.
namespace tg::proxy {

/// The definition as compact JSON text and as the YAML node the config schema reads.
struct TenantDefinition {
    std::string json;  ///< compact, as kept in the runtime state
    YAML::Node yaml;
};

/// Parses a request body (or a stored definition). Scalars become YAML scalars spelled as in
/// JSON, so `"burst": 0.5` is reported as the file would report `burst: 0.5`. nullopt with
/// `error` for malformed JSON or a body that is not an object.
[[nodiscard]] std::optional<TenantDefinition> tenant_definition_from_json(std::string_view text,
                                                                          std::string& error);

/// A YAML document (ctl's --file) as JSON: plain scalars that read as booleans or numbers
/// become those, everything else strings. nullopt with `error` when it is not YAML.
[[nodiscard]] std::optional<boost::json::value> json_from_yaml(std::string_view text,
                                                               std::string& error);

}  // namespace tg::proxy

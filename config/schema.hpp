#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.hpp"
#include "config/snapshot.hpp"
#include "config/yaml_fields.hpp"

/// First pass (shape): YAML document -> Snapshot with defaults, reporting wrong types, unknown
/// keys and malformed values. Cross references are left to validate().
namespace tg::config::detail {

/// The whole document; `base_dir` resolves relative file paths.
Snapshot parse_snapshot(const YAML::Node& root, const std::string& base_dir, Diagnostics& diag);

std::vector<Listener> parse_listeners(const std::optional<Field>& field,
                                      const std::string& base_dir, Diagnostics& diag);
std::map<std::string, Pool, std::less<>> parse_pools(const std::optional<Field>& field,
                                                     Diagnostics& diag);
Tenants parse_tenants(const std::optional<Field>& field, Diagnostics& diag);
std::vector<TenantTemplate> parse_tenant_templates(const std::optional<Field>& field,
                                                   Diagnostics& diag);
std::vector<FreezeWindow> parse_freeze_windows(const std::optional<Field>& field,
                                               Diagnostics& diag);

/// `path` as written when absolute or when there is no base directory, else base_dir/path.
std::string resolve_path(const std::string& base_dir, const std::string& path);

}  // namespace tg::config::detail

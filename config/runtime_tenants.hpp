#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/load.hpp"
#include "config/snapshot.hpp"

/// Tenants added through the admin API (SPEC §6): the shape of `tenants.NAME`, read and checked
/// by the same code as the config file, and merged over the file's tenants. Errors carry the
/// key path ("tenants.acme.rate_limit.burst") and no position: the definition has no file.
namespace tg::config {

/// A tenant definition as `tenants.NAME` of the config file; `definition` is built from the
/// API's JSON (or a YAML file). Null when it does not parse, with every error in `errors`.
/// Cross references (pools, other tenants' hosts) are left to check_runtime_tenant.
[[nodiscard]] std::shared_ptr<const Tenant> parse_runtime_tenant(std::string_view name,
                                                                 const YAML::Node& definition,
                                                                 std::vector<ConfigError>& errors);

/// Whether a parsed runtime tenant may join `snapshot` (replacing its runtime tenant of the
/// same name, if any).
struct TenantFit {
    std::vector<ConfigError> errors;  ///< unknown pools, blue == green: the definition is wrong
    std::string conflict_with;        ///< non-empty: the tenant it collides with
    std::string conflict;  ///< why: the name belongs to a file tenant, or a host overlaps
};

/// The named tenant that claims a host exactly as written ("erp.acme.com", "*.acme.com"), if
/// any. routing::HostTable::owner answers it for what is served, in O(1).
using HostOwner = std::function<std::optional<std::string_view>(std::string_view host)>;

/// Checks `tenant` against `snapshot`'s pools and, through `owner_of`, every other tenant's
/// hosts, with the config file's messages. Costs one lookup per host of `tenant`.
[[nodiscard]] TenantFit check_runtime_tenant(const Snapshot& snapshot, const Tenant& tenant,
                                             const HostOwner& owner_of);

/// The config file's snapshot with the runtime tenants added (origin `api`).
struct MergedSnapshot {
    std::shared_ptr<const Snapshot> snapshot;
    /// One line per runtime tenant left out, with its key path: a name or a host the file
    /// already has (the file wins), or a pool the file no longer has. The tenant stays in the
    /// runtime state and comes back once the conflict is gone.
    std::vector<std::string> problems;
};

/// Merges `runtime` (parsed definitions, by name) over `file`. Runtime tenants are taken in
/// name order, so two that claim one host (possible only when replicas raced) resolve alike on
/// every replica: the first by name keeps it. Costs one pass over both maps and one hash insert
/// per host; the tenants themselves are shared, not copied.
[[nodiscard]] MergedSnapshot merge_runtime_tenants(const Snapshot& file, const Tenants& runtime);

}  // namespace tg::config

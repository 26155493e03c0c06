#include "config/runtime_tenants.hpp"

#include <unordered_map>

#include "config/diagnostics.hpp"
#include "config/schema.hpp"
#include "config/validate.hpp"
#include "config/yaml_fields.hpp"

namespace tg::config {
namespace {

/// Host -> the tenant that owns it; views into the tenants, which outlive the index.
using HostOwners = std::unordered_map<std::string_view, std::string_view>;

/// The first host of `tenant` another tenant in `owners` has, as (index, owner).
std::optional<std::pair<std::size_t, std::string_view>> overlap(const HostOwners& owners,
                                                                const Tenant& tenant) {
    for (std::size_t i = 0; i < tenant.hosts.size(); ++i) {
        const auto found = owners.find(tenant.hosts[i]);
        if (found != owners.end() && found->second != tenant.name)
            return std::pair{i, found->second};
    }
    return std::nullopt;
}

std::string host_path(const Tenant& tenant, std::size_t index) {
    return detail::index_path(
        detail::child_path(detail::child_path("tenants", tenant.name), "hosts"), index);
}

/// Whether every pool `policy` names is in `snapshot`: the one check of an accepted definition
/// that a new config file can break. The messages come from check_tenant_pools when not.
bool pools_exist(const Snapshot& snapshot, const TenantPolicy& policy) {
    const auto known = [&](const std::string& pool) {
        return pool.empty() || snapshot.pools.contains(pool);
    };
    return known(policy.pool) &&
           (!policy.release || (known(policy.release->blue) && known(policy.release->green)));
}

}  // namespace

std::shared_ptr<const Tenant> parse_runtime_tenant(std::string_view name,
                                                   const YAML::Node& definition,
                                                   std::vector<ConfigError>& errors) {
    detail::Diagnostics diag("");
    // The same entry point as the file's `tenants:` map, so the name rule and every message
    // are the file's.
    YAML::Node tenants(YAML::NodeType::Map);
    tenants[std::string(name)] = definition;
    auto parsed =
        detail::parse_tenants(detail::Field{tenants, "tenants", YAML::Mark::null_mark()}, diag);
    auto found = parsed.find(name);
    if (found != parsed.end()) {
        const std::string hosts = detail::child_path(detail::child_path("tenants", name), "hosts");
        const auto& list = found->second->hosts;
        if (list.empty() && diag.present(hosts) && !diag.failed(hosts))
            diag.error(hosts, "at least one host is required");
        for (std::size_t i = 0; i < list.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (list[i] == list[j])
                    diag.error(detail::index_path(hosts, i),
                               detail::host_overlap_message(list[i], name, name));
    }
    errors = diag.take_errors();
    // A definition from a YAML file still answers with key paths only, like one from JSON.
    for (auto& e : errors) e.line = e.column = 0;
    if (!errors.empty() || found == parsed.end()) return nullptr;
    auto tenant = std::make_shared<Tenant>(*found->second);
    tenant->origin = TenantOrigin::api;
    return tenant;
}

TenantFit check_runtime_tenant(const Snapshot& snapshot, const Tenant& tenant,
                               const HostOwner& owner_of) {
    TenantFit fit;
    detail::Diagnostics diag("");
    detail::check_tenant_pools(snapshot, tenant, diag);
    fit.errors = diag.take_errors();
    if (const auto same = snapshot.tenants.find(tenant.name);
        same != snapshot.tenants.end() && same->second->origin == TenantOrigin::file) {
        fit.conflict_with = tenant.name;
        fit.conflict = "tenant " + detail::in_quotes(tenant.name) +
                       " is defined in the config file; change it there";
        return fit;
    }
    for (std::size_t i = 0; i < tenant.hosts.size(); ++i) {
        const auto owner = owner_of(tenant.hosts[i]);
        if (!owner || *owner == tenant.name) continue;
        fit.conflict_with = std::string(*owner);
        fit.conflict = host_path(tenant, i) + ": " +
                       detail::host_overlap_message(tenant.hosts[i], *owner, tenant.name);
        return fit;
    }
    return fit;
}

MergedSnapshot merge_runtime_tenants(const Snapshot& file, const Tenants& runtime) {
    MergedSnapshot result;
    auto merged = std::make_shared<Snapshot>(file);
    merged->tenants.clear();
    HostOwners owners;
    owners.reserve(file.tenants.size() + runtime.size() * 2);
    for (const auto& [name, tenant] : file.tenants)
        for (const auto& host : tenant->hosts) owners.emplace(host, name);
    // Both maps are sorted by name: merged in one pass.
    auto& tenants = merged->tenants;
    auto from_file = file.tenants.begin();
    const auto take_file_tenants_before = [&](std::string_view name) {
        for (; from_file != file.tenants.end() && from_file->first < name; ++from_file)
            tenants.insert_or_assign(from_file->first, from_file->second);
    };
    for (const auto& [name, tenant] : runtime) {
        take_file_tenants_before(name);
        if (from_file != file.tenants.end() && from_file->first == name) {
            result.problems.push_back(detail::child_path("tenants", name) +
                                      ": defined in the config file and through the admin API; "
                                      "the config file's definition is used");
            continue;
        }
        if (!pools_exist(file, tenant->policy)) {
            detail::Diagnostics diag("");
            detail::check_tenant_pools(file, *tenant, diag);
            const auto errors = diag.take_errors();
            result.problems.push_back(errors.front().path + ": " + errors.front().message +
                                      "; the tenant added through the admin API is not served");
            continue;
        }
        if (const auto clash = overlap(owners, *tenant)) {
            result.problems.push_back(
                host_path(*tenant, clash->first) + ": " +
                detail::host_overlap_message(tenant->hosts[clash->first], clash->second, name) +
                "; the tenant added through the admin API is not served");
            continue;
        }
        tenants.insert_or_assign(name, tenant);
        for (const auto& host : tenant->hosts) owners.emplace(host, tenant->name);
    }
    for (; from_file != file.tenants.end(); ++from_file)
        tenants.insert_or_assign(from_file->first, from_file->second);
    result.snapshot = std::move(merged);
    return result;
}

}  // namespace tg::config

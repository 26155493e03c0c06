#include "proxy/state/tenant_merger.hpp"

#include "proxy/admin/tenant_definition.hpp"
#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {
namespace {

/// A runtime tenant's definition parsed (null when it does not parse, which is logged).
std::shared_ptr<const config::Tenant> parse_definition(const std::string& name,
                                                       const std::string& text) {
    std::string error;
    std::vector<config::ConfigError> errors;
    const auto definition = tenant_definition_from_json(text, error);
    std::shared_ptr<const config::Tenant> tenant;
    if (definition) tenant = config::parse_runtime_tenant(name, definition->yaml, errors);
    if (tenant) return tenant;
    if (!definition) errors.push_back({"", 0, 0, "tenants." + name, error});
    std::vector<std::string> lines;
    for (const auto& e : errors) lines.push_back(e.path + ": " + e.message);
    ops_log::error_list("tenant added through the admin API does not parse, not served", lines);
    return nullptr;
}

}  // namespace

config::MergedSnapshot TenantMerger::merge(
    const config::Snapshot& file,
    const std::map<std::string, RuntimeTenant, std::less<>>& definitions) {
    // The definitions and the texts parsed last time, both sorted by name, are walked side by
    // side: one pass over 20,000 tenants, and only a new or changed definition is parsed.
    auto known = texts_.begin();
    const auto forget = [&] {
        tenants_.erase(known->first);
        known = texts_.erase(known);
    };
    for (const auto& [name, runtime_tenant] : definitions) {
        while (known != texts_.end() && known->first < name) forget();
        const bool seen = known != texts_.end() && known->first == name;
        if (runtime_tenant.removed()) {
            if (seen) forget();
            continue;
        }
        const std::string& text = runtime_tenant.definition;
        if (seen && known->second == text) {
            ++known;
            continue;
        }
        if (seen)
            known->second = text;
        else
            known = texts_.emplace_hint(known, name, text);
        ++known;
        tenants_.erase(name);
        if (auto tenant = parse_definition(name, text)) tenants_.emplace(name, std::move(tenant));
    }
    while (known != texts_.end()) forget();
    return config::merge_runtime_tenants(file, tenants_);
}

}  // namespace tg::proxy

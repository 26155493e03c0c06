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

/// `entry` when it is a definition, null when absent or a tombstone.
const RuntimeTenant* live(const RuntimeTenant* entry) {
    return entry && !entry->removed() ? entry : nullptr;
}

}  // namespace

ServedTenants TenantMerger::merge(std::shared_ptr<const config::Snapshot> file,
                                  const RuntimeTenants& definitions) {
    const auto changed = parse_changes(definitions);
    std::optional<ServedTenants> next;
    if (file == file_ && served_.snapshot && served_.problems.empty())
        next = apply_changes(changed);
    if (!next) next = merge_all(file);
    file_ = std::move(file);
    served_ = *next;
    served_.removed.clear();
    return std::move(*next);
}

std::vector<std::string> TenantMerger::parse_changes(const RuntimeTenants& definitions) {
    // The two maps are versions of one, a few changes apart: the diff skips what they share.
    std::vector<std::string> changed;
    RuntimeTenants::diff(
        definitions_, definitions,
        [&](const std::string& name, const RuntimeTenant* before, const RuntimeTenant* after) {
            const RuntimeTenant* was = live(before);
            const RuntimeTenant* is = live(after);
            if (!was && !is) return;
            if (was && is && was->definition == is->definition) return;
            changed.push_back(name);
        });
    for (const auto& name : changed) {
        const RuntimeTenant* now = live(definitions.get(name));
        auto tenant = now ? parse_definition(name, now->definition) : nullptr;
        if (tenant)
            parsed_.insert_or_assign(name, std::move(tenant));
        else
            parsed_.erase(name);
    }
    definitions_ = definitions;
    return changed;
}

std::optional<ServedTenants> TenantMerger::apply_changes(
    const std::vector<std::string>& changed) const {
    ServedTenants next;
    next.hosts = served_.hosts;
    auto snapshot = std::make_shared<config::Snapshot>(*served_.snapshot);
    // Tenants gone first, so that their hosts are free for the others. A replaced one is put
    // over its old self, keeping its slot (and the per-tenant tables' chunks); a host moving
    // to it from another changed tenant is a conflict here and left to the full merge.
    for (const auto& name : changed) {
        const auto* was = snapshot->tenants.get(name);
        if (!was) continue;
        if ((*was)->origin == config::TenantOrigin::file) return std::nullopt;
        if (parsed_.contains(name)) continue;
        next.removed.push_back(*was);
        snapshot->tenants.erase(name);
        next.hosts.remove(name);
    }
    for (const auto& name : changed) {
        const auto* tenant = parsed_.get(name);
        if (!tenant) continue;
        const auto fit = config::check_runtime_tenant(
            *file_, **tenant, [&](std::string_view host) { return next.hosts.owner(host); });
        if (!fit.errors.empty() || !fit.conflict_with.empty()) return std::nullopt;
        snapshot->tenants.insert_or_assign(name, *tenant);
        next.hosts.put(*tenant);
    }
    next.hosts.index_templates(snapshot->tenant_templates);
    next.snapshot = std::move(snapshot);
    return next;
}

ServedTenants TenantMerger::merge_all(const std::shared_ptr<const config::Snapshot>& file) const {
    auto merged = config::merge_runtime_tenants(*file, parsed_);
    ServedTenants next{
        merged.snapshot, routing::HostTable(*merged.snapshot), std::move(merged.problems), {}};
    if (served_.snapshot) {
        for (const auto& [name, tenant] : served_.snapshot->tenants)
            if (!next.snapshot->tenants.contains(name)) next.removed.push_back(tenant);
    }
    return next;
}

}  // namespace tg::proxy

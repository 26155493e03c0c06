#include "routing/host_table.hpp"

#include <cassert>

#include "routing/release.hpp"

namespace tg::routing {
namespace {

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/// One RFC 1123 §2.1 host name label: letters, digits and '-', 1..63 characters, no '-' at
/// either end. Upper case never reaches here (hosts are normalised first) and '_' is refused,
/// because the label becomes a tenant name, a database filter and a metrics label.
bool is_tenant_label(std::string_view label) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
        return false;
    for (const char c : label) {
        if (!is_label_char(c)) return false;
    }
    return true;
}

}  // namespace

HostTable::HostTable(const config::Snapshot& snapshot) {
    for (const auto& [name, tenant] : snapshot.tenants) put(tenant);
    index_templates(snapshot.tenant_templates);
}

void HostTable::put(std::shared_ptr<const config::Tenant> tenant) {
    std::size_t slot;
    if (const auto* served = named_.find(tenant->name)) {
        slot = *served;
        remove(tenant->name);
        // remove() freed the slot last: taking the last free one gives it back.
        free_slots_.pop_back();
    } else if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = slots_.size();
        slots_.resize(slot + 1);
    }
    const Entry entry{tenant->name, &tenant->policy, slot};
    named_.insert_or_assign(tenant->name, slot);
    for (const std::string& host : tenant->hosts) {
        if (host.starts_with("*."))
            wildcard_.insert_or_assign(host.substr(1), entry);
        else
            exact_.insert_or_assign(host, entry);
    }
    ++pool_users_[active_pool(tenant->policy, std::nullopt)];
    slots_.set(slot, std::move(tenant));
}

void HostTable::remove(std::string_view name) {
    const auto* served = named_.find(name);
    if (!served) return;
    const std::size_t slot = *served;
    // Held until the end: `name` may view into it.
    const auto tenant = slots_[slot];
    for (const std::string& host : tenant->hosts) {
        if (host.starts_with("*."))
            wildcard_.erase(std::string_view(host).substr(1));
        else
            exact_.erase(host);
    }
    const auto users = pool_users_.find(active_pool(tenant->policy, std::nullopt));
    assert(users != pool_users_.end() && "put() counted the tenant's pool");
    if (--users->second == 0) pool_users_.erase(users);
    named_.erase(tenant->name);
    slots_.set(slot, nullptr);
    free_slots_.push_back(slot);
}

void HostTable::index_templates(const std::vector<config::TenantTemplate>& templates) {
    templates_.clear();
    // The config accepts only "{tenant}." + domain, so every suffix starts with '.'.
    for (std::size_t i = 0; i < templates.size(); ++i)
        templates_.emplace(templates[i].suffix, Entry{{}, &templates[i].policy, i});
}

std::optional<std::size_t> HostTable::slot_of(std::string_view name) const {
    if (const auto* slot = named_.find(name)) return *slot;
    return std::nullopt;
}

std::optional<std::string_view> HostTable::owner(std::string_view host) const {
    const bool wildcard = host.starts_with("*.");
    const auto* found = (wildcard ? wildcard_ : exact_).find(wildcard ? host.substr(1) : host);
    if (!found) return std::nullopt;
    return found->name;
}

std::optional<TenantMatch> HostTable::match(std::string_view normalized_host) const {
    if (const auto* found = exact_.find(normalized_host))
        return TenantMatch{found->name, found->policy, false, found->index};
    const std::size_t first_dot = normalized_host.find('.');
    if (first_dot == std::string_view::npos || first_dot == 0) return std::nullopt;
    // Probing the suffixes left to right tries the longest wildcard first; starting at the
    // first dot past position 0 leaves "*" at least one label.
    if (!wildcard_.empty()) {
        for (std::size_t dot = first_dot; dot != std::string_view::npos;
             dot = normalized_host.find('.', dot + 1)) {
            if (const auto* found = wildcard_.find(normalized_host.substr(dot)))
                return TenantMatch{found->name, found->policy, false, found->index};
        }
    }
    const auto found = templates_.find(normalized_host.substr(first_dot));
    if (found == templates_.end()) return std::nullopt;
    const std::string_view label = normalized_host.substr(0, first_dot);
    // A named tenant owns its name: "acme.erp.example.com" must not become a second "acme"
    // with another pool but the same rate-limit buckets, state and metrics.
    if (!is_tenant_label(label) || named_.find(label)) return std::nullopt;
    return TenantMatch{label, found->second.policy, true, found->second.index};
}

}  // namespace tg::routing

#include "routing/host_table.hpp"

#include <cstddef>

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
    // Sized once: growing by rehashes costs more than the inserts at 20,000 tenants.
    exact_.reserve(snapshot.tenants.size() * 2);
    named_.reserve(snapshot.tenants.size());
    std::size_t index = 0;
    for (const auto& [name, tenant] : snapshot.tenants) {
        named_.insert(name);
        const Entry entry{tenant->name, &tenant->policy, index++};
        for (const std::string& host : tenant->hosts) {
            if (host.starts_with("*.")) {
                wildcard_.emplace(std::string_view(host).substr(1), entry);
            } else {
                exact_.emplace(host, entry);
            }
        }
    }
    // The config accepts only "{tenant}." + domain, so every suffix starts with '.'.
    for (std::size_t i = 0; i < snapshot.tenant_templates.size(); ++i) {
        const auto& tenant_template = snapshot.tenant_templates[i];
        templates_.emplace(tenant_template.suffix, Entry{{}, &tenant_template.policy, i});
    }
}

std::optional<std::string_view> HostTable::owner(std::string_view host) const {
    const bool wildcard = host.starts_with("*.");
    const Index& index = wildcard ? wildcard_ : exact_;
    const auto found = index.find(wildcard ? host.substr(1) : host);
    if (found == index.end()) return std::nullopt;
    return found->second.name;
}

std::optional<TenantMatch> HostTable::match(std::string_view normalized_host) const {
    if (const auto found = exact_.find(normalized_host); found != exact_.end())
        return TenantMatch{found->second.name, found->second.policy, false, found->second.index};
    const std::size_t first_dot = normalized_host.find('.');
    if (first_dot == std::string_view::npos || first_dot == 0) return std::nullopt;
    // Probing the suffixes left to right tries the longest wildcard first; starting at the
    // first dot past position 0 leaves "*" at least one label.
    if (!wildcard_.empty()) {
        for (std::size_t dot = first_dot; dot != std::string_view::npos;
             dot = normalized_host.find('.', dot + 1)) {
            const auto found = wildcard_.find(normalized_host.substr(dot));
            if (found != wildcard_.end())
                return TenantMatch{found->second.name, found->second.policy, false,
                                   found->second.index};
        }
    }
    const auto found = templates_.find(normalized_host.substr(first_dot));
    if (found == templates_.end()) return std::nullopt;
    const std::string_view label = normalized_host.substr(0, first_dot);
    // A named tenant owns its name: "acme.erp.example.com" must not become a second "acme"
    // with another pool but the same rate-limit buckets, state and metrics.
    if (!is_tenant_label(label) || named_.contains(label)) return std::nullopt;
    return TenantMatch{label, found->second.policy, true, found->second.index};
}

}  // namespace tg::routing

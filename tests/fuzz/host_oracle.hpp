#pragma once

#include <optional>
#include <string_view>

#include "config/snapshot.hpp"
#include "fuzz_check.hpp"
#include "routing/host_table.hpp"

/// SPEC §3 step 1 written as plainly as it reads, by scanning the snapshot: the reference the
/// fuzz targets hold HostTable's indexed lookup against.
namespace tg::fuzz {

/// RFC 1123 §2.1 label as a template's tenant name: lower-case letters, digits, '-' inside.
inline bool is_template_label(std::string_view label) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
        return false;
    for (const char c : label)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

/// The tenant `host` (already normalised) belongs to: an exact host, else the longest wildcard
/// with at least one label before its suffix, else a template whose one label before the suffix
/// is a valid name that no named tenant has.
inline std::optional<routing::TenantMatch> expected_tenant(const config::Snapshot& snapshot,
                                                           std::string_view host) {
    std::optional<routing::TenantMatch> wildcard;
    std::size_t wildcard_length = 0;
    std::size_t index = 0;
    for (const auto& [name, tenant] : snapshot.tenants) {
        for (const auto& pattern : tenant->hosts) {
            if (pattern == host) return routing::TenantMatch{name, &tenant->policy, false, index};
            if (!pattern.starts_with("*.")) continue;
            const std::string_view suffix = std::string_view(pattern).substr(1);
            if (host.size() > suffix.size() && host.ends_with(suffix) && host.front() != '.' &&
                suffix.size() > wildcard_length) {
                wildcard = routing::TenantMatch{name, &tenant->policy, false, index};
                wildcard_length = suffix.size();
            }
        }
        ++index;
    }
    if (wildcard) return wildcard;
    const auto dot = host.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto label = host.substr(0, dot);
    for (std::size_t i = 0; i < snapshot.tenant_templates.size(); ++i) {
        const auto& tenant_template = snapshot.tenant_templates[i];
        if (host.substr(dot) != tenant_template.suffix) continue;
        if (!is_template_label(label) || snapshot.tenants.contains(label)) return std::nullopt;
        return routing::TenantMatch{label, &tenant_template.policy, true, i};
    }
    return std::nullopt;
}

/// HostTable's decision for `host` is the reference's.
inline void check_host_decision(const config::Snapshot& snapshot, const routing::HostTable& table,
                                std::string_view host) {
    const auto got = table.match(host);
    const auto want = expected_tenant(snapshot, host);
    FUZZ_CHECK(got.has_value() == want.has_value());
    if (!got) return;
    FUZZ_CHECK(got->name == want->name && got->policy == want->policy &&
               got->from_template == want->from_template && got->index == want->index);
}

/// Every host the table was built from, a name under every wildcard and every template, and
/// every named tenant's name under every template: each decided as the reference decides.
inline void check_snapshot_hosts(const config::Snapshot& snapshot,
                                 const routing::HostTable& table) {
    for (const auto& [name, tenant] : snapshot.tenants) {
        for (const auto& host : tenant->hosts) {
            if (!host.starts_with("*.")) {
                // A host the table contains finds its own tenant.
                const auto found = table.match(host);
                FUZZ_CHECK(found && found->name == name && !found->from_template);
            }
            check_host_decision(snapshot, table, host);
            if (host.starts_with("*.")) {
                check_host_decision(snapshot, table, "x" + host.substr(1));
                check_host_decision(snapshot, table, "a.b" + host.substr(1));
            }
        }
        for (const auto& tenant_template : snapshot.tenant_templates)
            check_host_decision(snapshot, table, name + tenant_template.suffix);
    }
    for (const auto& tenant_template : snapshot.tenant_templates)
        check_host_decision(snapshot, table, "fuzz-tenant" + tenant_template.suffix);
}

}  // namespace tg::fuzz

#include "config/validate.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include "config/units.hpp"
#include "config/yaml_fields.hpp"

namespace tg::config::detail {
namespace {

std::string endpoint_key(const HostPort& address) {
    return address.host + ":" + std::to_string(address.port);
}

/// Whether `path` was written and read cleanly, i.e. its value in the snapshot is the file's.
bool usable(const Diagnostics& diag, std::string_view path) {
    return diag.present(path) && !diag.failed(path);
}

void check_tls(const TlsSettings& tls, const std::string& path, Diagnostics& diag) {
    const std::string certificates = child_path(path, "certificates");
    if (tls.certificates.empty()) {
        if (usable(diag, certificates)) {
            diag.error(certificates, "at least one certificate is required");
        }
        return;
    }
    const std::string index = child_path(path, "default_certificate");
    if (usable(diag, index) && tls.default_certificate >= tls.certificates.size()) {
        const std::size_t count = tls.certificates.size();
        diag.error(index, "index " + std::to_string(tls.default_certificate) +
                              " is out of range (" + std::to_string(count) +
                              (count == 1 ? " certificate)" : " certificates)"));
    }
}

void check_listeners(const Snapshot& snapshot, Diagnostics& diag) {
    if (snapshot.listeners.empty()) {
        if (usable(diag, "listeners")) diag.error("listeners", "at least one listener is required");
        return;
    }
    std::map<std::string, std::string> names;      // name -> path of its first use
    std::map<std::string, std::string> addresses;  // host:port -> path of its first use
    for (std::size_t i = 0; i < snapshot.listeners.size(); ++i) {
        const Listener& listener = snapshot.listeners[i];
        const std::string path = index_path("listeners", i);
        if (usable(diag, child_path(path, "name")) && !names.emplace(listener.name, path).second) {
            diag.error(child_path(path, "name"), "duplicate listener name " +
                                                     in_quotes(listener.name) + " (also " +
                                                     names[listener.name] + ")");
        }
        // Port 0 asks the kernel for a fresh port each time, so it never collides.
        if (usable(diag, child_path(path, "address")) && listener.address.port != 0 &&
            !addresses.emplace(endpoint_key(listener.address), path).second) {
            diag.error(child_path(path, "address"), "address " + in_quotes(listener.address.text) +
                                                        " is already used by " +
                                                        addresses[endpoint_key(listener.address)]);
        }
        if (listener.tls) check_tls(*listener.tls, child_path(path, "tls"), diag);
        if (listener.tls && listener.redirect_https) {
            diag.warning(child_path(path, "redirect_https"), "has no effect on a TLS listener");
        }
        // The header is believed only from trusted_proxies: without any, nothing could connect.
        if (listener.proxy_protocol && snapshot.trusted_proxies.empty() &&
            usable(diag, child_path(path, "proxy_protocol"))) {
            diag.error(child_path(path, "proxy_protocol"),
                       "needs trusted_proxies: a PROXY header is accepted only from them");
        }
    }
    const auto admin = addresses.find(endpoint_key(snapshot.admin.address));
    if (snapshot.admin.address.port != 0 && admin != addresses.end() &&
        !diag.failed("admin.address")) {
        diag.error("admin.address", "address " + in_quotes(snapshot.admin.address.text) +
                                        " is already used by " + admin->second);
    }
}

/// Duplicates within one endpoint list; indices match the file only when no entry was dropped.
void check_endpoints(const std::vector<HostPort>& endpoints, const std::string& path,
                     Diagnostics& diag) {
    if (!usable(diag, path)) return;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        if (!seen.insert(endpoint_key(endpoints[i])).second) {
            diag.error(index_path(path, i), "duplicate endpoint " + in_quotes(endpoints[i].text));
        }
    }
}

void check_pools(const Snapshot& snapshot, Diagnostics& diag) {
    for (const auto& [name, pool] : snapshot.pools) {
        const std::string path = child_path("pools", name);
        const std::string web = child_path(path, "web");
        if (pool.web.empty() && usable(diag, web)) {
            diag.error(web, "at least one endpoint is required");
        }
        check_endpoints(pool.web, web, diag);
        check_endpoints(pool.longpolling, child_path(path, "longpolling"), diag);
        const std::string check = child_path(path, "health_check");
        if (pool.health_check && !diag.failed(child_path(check, "interval")) &&
            !diag.failed(child_path(check, "timeout")) &&
            pool.health_check->timeout >= pool.health_check->interval) {
            diag.error(child_path(check, diag.present(child_path(check, "timeout")) ? "timeout"
                                                                                    : "interval"),
                       "timeout " + format_duration(pool.health_check->timeout) +
                           " must be shorter than interval " +
                           format_duration(pool.health_check->interval));
        }
    }
}

void check_pool_reference(const Snapshot& snapshot, const std::string& name,
                          const std::string& path, Diagnostics& diag) {
    if (!name.empty() && !diag.failed(path) && !snapshot.pools.contains(name)) {
        diag.error(path, "unknown pool " + in_quotes(name));
    }
}

void check_policy_pools(const Snapshot& snapshot, const TenantPolicy& policy,
                        const std::string& path, Diagnostics& diag) {
    check_pool_reference(snapshot, policy.pool, child_path(path, "pool"), diag);
    if (!policy.release) return;
    const std::string release = child_path(path, "release");
    check_pool_reference(snapshot, policy.release->blue, child_path(release, "blue"), diag);
    check_pool_reference(snapshot, policy.release->green, child_path(release, "green"), diag);
    if (!policy.release->blue.empty() && policy.release->blue == policy.release->green) {
        diag.error(child_path(release, "green"),
                   "blue and green must be different pools (both are " +
                       in_quotes(policy.release->blue) + ")");
    }
}

void check_tenants(const Snapshot& snapshot, Diagnostics& diag) {
    struct HostUse {
        YAML::Mark mark;
        std::string path;
        std::string tenant;
        std::string host;
    };
    std::vector<HostUse> uses;
    for (const auto& [name, tenant] : snapshot.tenants) {
        const std::string path = child_path("tenants", name);
        check_tenant_pools(snapshot, *tenant, diag);
        const std::string hosts = child_path(path, "hosts");
        if (!usable(diag, hosts)) continue;
        if (tenant->hosts.empty()) diag.error(hosts, "at least one host is required");
        for (std::size_t i = 0; i < tenant->hosts.size(); ++i) {
            std::string host_path = index_path(hosts, i);
            uses.push_back(
                {diag.position(host_path), std::move(host_path), name, tenant->hosts[i]});
        }
    }
    // The first use in the file owns the host; later ones are reported where they are written.
    std::stable_sort(uses.begin(), uses.end(), [](const HostUse& a, const HostUse& b) {
        return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
    });
    std::map<std::string, std::string> owners;
    for (const auto& use : uses) {
        const auto [owner, inserted] = owners.emplace(use.host, use.tenant);
        if (inserted) continue;
        diag.error(use.path, host_overlap_message(use.host, owner->second, use.tenant));
    }
}

void check_templates(const Snapshot& snapshot, Diagnostics& diag) {
    std::map<std::string, std::string> suffixes;  // suffix -> path of the first template
    for (std::size_t i = 0; i < snapshot.tenant_templates.size(); ++i) {
        const TenantTemplate& tenant_template = snapshot.tenant_templates[i];
        const std::string path = index_path("tenant_templates", i);
        check_policy_pools(snapshot, tenant_template.policy, path, diag);
        const std::string host = child_path(path, "host");
        if (!usable(diag, host)) continue;
        const auto [first, inserted] = suffixes.emplace(tenant_template.suffix, path);
        if (!inserted) {
            diag.error(host, "template host " + in_quotes(tenant_template.host) +
                                 " is already used by " + first->second);
            continue;
        }
        // Wildcard tenants are matched before templates (SPEC §3), so this one would never apply.
        const std::string wildcard = "*" + tenant_template.suffix;
        for (const auto& [name, tenant] : snapshot.tenants) {
            if (std::find(tenant->hosts.begin(), tenant->hosts.end(), wildcard) !=
                tenant->hosts.end()) {
                diag.warning(host, "never used: tenant " + in_quotes(name) + " claims " +
                                       in_quotes(wildcard) + ", which is matched first");
            }
        }
    }
}

void check_freeze_windows(const Snapshot& snapshot, Diagnostics& diag) {
    std::map<std::string, std::string> names;  // name -> path of the first window
    for (std::size_t i = 0; i < snapshot.freeze_windows.size(); ++i) {
        const FreezeWindow& window = snapshot.freeze_windows[i];
        const std::string path = index_path("freeze_windows", i);
        const std::string name = child_path(path, "name");
        if (usable(diag, name)) {
            const auto [first, inserted] = names.emplace(window.name, path);
            if (!inserted) {
                diag.error(name, "duplicate freeze window name " + in_quotes(window.name) +
                                     " (also " + first->second + ")");
            }
        }
    }
}

void check_pool_usage(const Snapshot& snapshot, Diagnostics& diag) {
    std::set<std::string_view> used;
    const auto note = [&](const TenantPolicy& policy) {
        used.insert(policy.pool);
        if (policy.release) {
            used.insert(policy.release->blue);
            used.insert(policy.release->green);
        }
    };
    for (const auto& [name, tenant] : snapshot.tenants) note(tenant->policy);
    for (const auto& tenant_template : snapshot.tenant_templates) note(tenant_template.policy);
    for (const auto& [name, pool] : snapshot.pools) {
        if (!used.contains(name)) {
            diag.warning(child_path("pools", name), "not used by any tenant or template");
        }
    }
    if (snapshot.tenants.empty() && snapshot.tenant_templates.empty()) {
        diag.warning("tenants", "no tenants or tenant templates: every request will get 404");
    }
}

}  // namespace

void check_tenant_pools(const Snapshot& snapshot, const Tenant& tenant, Diagnostics& diag) {
    check_policy_pools(snapshot, tenant.policy, child_path("tenants", tenant.name), diag);
}

std::string host_overlap_message(std::string_view host, std::string_view owner,
                                 std::string_view tenant) {
    if (owner == tenant) return "duplicate host " + in_quotes(host);
    return "host " + in_quotes(host) + " is listed by tenants " + in_quotes(owner) + " and " +
           in_quotes(tenant);
}

void validate(const Snapshot& snapshot, Diagnostics& diag) {
    check_listeners(snapshot, diag);
    check_pools(snapshot, diag);
    check_tenants(snapshot, diag);
    check_templates(snapshot, diag);
    check_freeze_windows(snapshot, diag);
    check_pool_usage(snapshot, diag);
}

}  // namespace tg::config::detail

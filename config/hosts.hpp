#pragma once

#include <string>
#include <string_view>

/// Tenant host patterns (SPEC §2, §3): what `tenants.*.hosts` and `tenant_templates[].host`
/// may contain, in the normalized form the router compares against a lower-cased Host header.
namespace tg::config::detail {

/// A normalized value, or the reason it was refused (exactly one is non-empty).
struct HostCheck {
    std::string value;
    std::string problem;
};

/// "ERP.Acme.com." -> "erp.acme.com"; "*.acme.com" stays a wildcard (whole first label only);
/// IPv4 and [IPv6] literals are accepted; ports are refused.
HostCheck normalize_host_pattern(std::string_view text);

/// "{tenant}.erp.example.com" -> ".erp.example.com" (lower-case).
HostCheck template_suffix(std::string_view text);

}  // namespace tg::config::detail

#include "config/hosts.hpp"

#include <algorithm>
#include <cctype>

#include "config/diagnostics.hpp"
#include "config/net.hpp"

namespace tg::config::detail {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

HostCheck refuse(std::string problem) {
    return {{}, std::move(problem)};
}

}  // namespace

HostCheck normalize_host_pattern(std::string_view text) {
    std::string host = lower(text);
    // The router strips the trailing dot of a fully-qualified Host header; match that.
    if (host.ends_with('.')) host.pop_back();
    const std::string shown = in_quotes(text);
    if (host.empty()) return refuse("empty host");
    if (host.starts_with('[')) {
        const auto ip =
            host.ends_with(']') ? parse_ip(host.substr(1, host.size() - 2)) : std::nullopt;
        if (!ip) {
            return check_host_port(host) == HostPortError::none
                       ? refuse("tenant host " + shown + " must not include a port")
                       : refuse("invalid host " + shown);
        }
        return {host, {}};
    }
    if (host.find(':') != std::string::npos) {
        return check_host_port(host) == HostPortError::none
                   ? refuse("tenant host " + shown + " must not include a port")
                   : refuse("invalid host " + shown + " (write IPv6 addresses as [addr])");
    }
    if (host.starts_with("*.") && host.find('*', 1) == std::string::npos) {
        if (!is_dns_name(std::string_view(host).substr(2))) return refuse("invalid host " + shown);
        return {host, {}};
    }
    if (host.find('*') != std::string::npos) {
        return refuse("invalid host " + shown +
                      ": \"*\" is allowed only as the whole first label, as in \"*.example.com\"");
    }
    if (!parse_ip(host) && !is_dns_name(host)) return refuse("invalid host " + shown);
    return {host, {}};
}

HostCheck template_suffix(std::string_view text) {
    constexpr std::string_view placeholder = "{tenant}.";
    const std::string host = lower(text);
    if (!host.starts_with(placeholder) ||
        !is_dns_name(std::string_view(host).substr(placeholder.size()))) {
        return refuse("invalid template host " + in_quotes(text) +
                      " (expected \"{tenant}.\" followed by a domain, as in "
                      "\"{tenant}.erp.example.com\")");
    }
    return {host.substr(placeholder.size() - 1), {}};
}

}  // namespace tg::config::detail

#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "config/snapshot.hpp"

/// Address parsing and prefix matching for the config and for per-request checks
/// (trusted_proxies, maintenance_bypass). Pure code: no sockets, no resolver.
namespace tg::config {

/// An IPv4 or IPv6 address in network byte order; IPv4 uses the first 4 bytes.
struct IpAddress {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};

    bool operator==(const IpAddress&) const = default;
};

/// Dotted IPv4 or RFC 4291 IPv6 text. An IPv4-mapped address (::ffff:a.b.c.d) comes back as
/// IPv4, so that a v4 rule matches a client seen on a dual-stack socket.
std::optional<IpAddress> parse_ip(std::string_view text);

/// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32 or /128). Host bits are masked off.
/// An IPv4-mapped prefix of length >= 96 becomes the equivalent IPv4 prefix.
std::optional<Cidr> parse_cidr(std::string_view text);

/// Whether `address` lies inside `cidr`. A v6 prefix also matches v4 addresses through their
/// IPv4-mapped form (so "::/0" matches everything); a mapped v6 address matches v4 prefixes.
bool contains(const Cidr& cidr, const IpAddress& address);

/// Whether any prefix in `cidrs` contains `address`.
bool contains_any(std::span<const Cidr> cidrs, const IpAddress& address);

/// Whether `text` is a DNS name: dot-separated labels of letters, digits, '-' and '_', each
/// 1..63 characters and not starting or ending with '-', 253 characters at most, and a last
/// label that is not all digits (so "10.1.0.300" is rejected rather than looked up).
bool is_dns_name(std::string_view text);

/// Why a host:port string was rejected, for precise config messages.
enum class HostPortError { none, missing_port, bad_port, bad_host };

/// Checks "host:port" (host: IPv4, DNS name or [IPv6]); port 1..65535, or 0 when
/// `allow_port_zero` (listeners: "any free port").
HostPortError check_host_port(std::string_view text, bool allow_port_zero = false);

/// Parses "10.1.0.11:8069", "odoo.acme.svc:8069" or "[::1]:8069". The host is stored without
/// brackets; `text` keeps the original spelling.
std::optional<HostPort> parse_host_port(std::string_view text, bool allow_port_zero = false);

}  // namespace tg::config

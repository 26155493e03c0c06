#include "config/net.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

namespace tg::config {
namespace {

constexpr std::array<std::uint8_t, 12> mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_mapped_v4(const IpAddress& address) {
    return address.v6 &&
           std::equal(mapped_prefix.begin(), mapped_prefix.end(), address.bytes.begin());
}

IpAddress to_v4(const IpAddress& mapped) {
    IpAddress v4;
    std::copy_n(mapped.bytes.begin() + 12, 4, v4.bytes.begin());
    return v4;
}

IpAddress to_mapped_v6(const IpAddress& v4) {
    IpAddress v6;
    v6.v6 = true;
    std::copy(mapped_prefix.begin(), mapped_prefix.end(), v6.bytes.begin());
    std::copy_n(v4.bytes.begin(), 4, v6.bytes.begin() + 12);
    return v6;
}

/// inet_pton without the mapped-address folding of parse_ip.
std::optional<IpAddress> parse_ip_literal(std::string_view text) {
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
    const std::string terminated(text);
    IpAddress address;
    if (inet_pton(AF_INET, terminated.c_str(), address.bytes.data()) == 1) return address;
    if (inet_pton(AF_INET6, terminated.c_str(), address.bytes.data()) == 1) {
        address.v6 = true;
        return address;
    }
    return std::nullopt;
}

/// Decimal digits only (no sign, no spaces), within [0, max].
std::optional<unsigned> parse_bounded(std::string_view text, unsigned max) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
    return value;
}

void mask_host_bits(std::array<std::uint8_t, 16>& bytes, int prefix_len) {
    for (int i = 0; i < 16; ++i) {
        const int bits = std::clamp(prefix_len - i * 8, 0, 8);
        bytes[i] &= static_cast<std::uint8_t>(0xff00u >> bits);
    }
}

bool prefix_matches(const std::array<std::uint8_t, 16>& network,
                    const std::array<std::uint8_t, 16>& address, int prefix_len) {
    auto masked = address;
    mask_host_bits(masked, prefix_len);
    return masked == network;
}

bool is_label_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
}

struct SplitHostPort {
    HostPortError error = HostPortError::none;
    std::string_view host;  ///< without brackets
    std::uint16_t port = 0;
};

SplitHostPort fail(HostPortError error) {
    return {error, {}, 0};
}

SplitHostPort split_host_port(std::string_view text, bool allow_port_zero) {
    SplitHostPort out;
    std::string_view port_text;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return fail(HostPortError::bad_host);
        out.host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (rest.empty()) return fail(HostPortError::missing_port);
        if (!rest.starts_with(':')) return fail(HostPortError::bad_host);
        port_text = rest.substr(1);
        const auto ip = parse_ip_literal(out.host);
        if (!ip || !ip->v6) return fail(HostPortError::bad_host);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return fail(is_dns_name(text) || parse_ip(text) ? HostPortError::missing_port
                                                            : HostPortError::bad_host);
        }
        out.host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        // An unbracketed IPv6 literal is ambiguous ("::1:8069"); RFC 3986 requires brackets.
        if (out.host.find(':') != std::string_view::npos) return fail(HostPortError::bad_host);
        const auto ip = parse_ip_literal(out.host);
        if (!(ip && !ip->v6) && !is_dns_name(out.host)) return fail(HostPortError::bad_host);
    }
    if (port_text.empty()) return fail(HostPortError::missing_port);
    const auto port = parse_bounded(port_text, 65535);
    if (!port || (*port == 0 && !allow_port_zero)) return fail(HostPortError::bad_port);
    out.port = static_cast<std::uint16_t>(*port);
    return out;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
    auto address = parse_ip_literal(text);
    if (address && is_mapped_v4(*address)) return to_v4(*address);
    return address;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    auto address = parse_ip_literal(text.substr(0, slash));
    if (!address) return std::nullopt;
    const int max_len = address->v6 ? 128 : 32;
    int prefix_len = max_len;
    if (slash != std::string_view::npos) {
        const auto parsed = parse_bounded(text.substr(slash + 1), static_cast<unsigned>(max_len));
        if (!parsed) return std::nullopt;
        prefix_len = static_cast<int>(*parsed);
    }
    if (is_mapped_v4(*address) && prefix_len >= 96) {
        address = to_v4(*address);
        prefix_len -= 96;
    }
    Cidr cidr;
    cidr.v6 = address->v6;
    cidr.bytes = address->bytes;
    cidr.prefix_len = prefix_len;
    cidr.text = std::string(text);
    mask_host_bits(cidr.bytes, cidr.prefix_len);
    return cidr;
}

bool contains(const Cidr& cidr, const IpAddress& address) {
    const IpAddress folded = is_mapped_v4(address) ? to_v4(address) : address;
    if (cidr.v6 == folded.v6) return prefix_matches(cidr.bytes, folded.bytes, cidr.prefix_len);
    if (cidr.v6) return prefix_matches(cidr.bytes, to_mapped_v6(folded).bytes, cidr.prefix_len);
    return false;
}

bool contains_any(std::span<const Cidr> cidrs, const IpAddress& address) {
    return std::any_of(cidrs.begin(), cidrs.end(),
                       [&](const Cidr& cidr) { return contains(cidr, address); });
}

bool is_dns_name(std::string_view text) {
    if (text.empty() || text.size() > 253) return false;
    std::string_view last_label;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto dot = std::min(text.find('.', start), text.size());
        const auto label = text.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(), is_label_char)) {
            return false;
        }
        last_label = label;
        start = dot + 1;
    }
    return !std::all_of(last_label.begin(), last_label.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

HostPortError check_host_port(std::string_view text, bool allow_port_zero) {
    return split_host_port(text, allow_port_zero).error;
}

std::optional<HostPort> parse_host_port(std::string_view text, bool allow_port_zero) {
    const auto split = split_host_port(text, allow_port_zero);
    if (split.error != HostPortError::none) return std::nullopt;
    std::string host(split.host);
    // DNS names compare case-insensitively; one spelling makes duplicates easy to spot.
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return HostPort{std::move(host), split.port, std::string(text)};
}

}  // namespace tg::config

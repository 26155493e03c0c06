#include "routing/forwarded.hpp"

#include <optional>

#include "routing/text.hpp"

namespace tg::routing {
namespace {

/// The address part of one X-Forwarded-For entry: "a.b.c.d", "a.b.c.d:port", "v6",
/// "[v6]" or "[v6]:port".
std::string_view address_text(std::string_view entry) {
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        return close == std::string_view::npos ? entry : entry.substr(1, close - 1);
    }
    const auto colon = entry.find(':');
    if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos)
        return entry.substr(0, colon);
    return entry;
}

/// The client address in a trusted proxy's X-Forwarded-For; nullopt when an entry met on the
/// way is not an address. Empty list elements are skipped (RFC 9110 §5.6.1).
std::optional<std::string_view> client_from_xff(std::string_view xff,
                                                std::span<const config::Cidr> trusted) {
    std::optional<std::string_view> leftmost;
    while (!xff.empty()) {
        const auto comma = xff.rfind(',');
        const auto entry =
            trim_optional_whitespace(comma == std::string_view::npos ? xff : xff.substr(comma + 1));
        xff = comma == std::string_view::npos ? std::string_view{} : xff.substr(0, comma);
        if (entry.empty()) continue;
        const auto text = address_text(entry);
        const auto address = config::parse_ip(text);
        if (!address) return std::nullopt;
        if (!config::contains_any(trusted, *address)) return text;
        leftmost = text;
    }
    return leftmost;
}

}  // namespace

void forwarded_for(std::string_view peer_ip, const config::IpAddress& peer,
                   std::string_view incoming_xff, std::span<const config::Cidr> trusted_proxies,
                   std::string& xff_out, std::string& client_ip_out) {
    const std::string_view incoming = trim_optional_whitespace(incoming_xff);
    if (incoming.empty() || !config::contains_any(trusted_proxies, peer)) {
        xff_out.assign(peer_ip);
        client_ip_out.assign(peer_ip);
        return;
    }
    const auto client = client_from_xff(incoming, trusted_proxies);
    client_ip_out.assign(client ? *client : peer_ip);
    xff_out.assign(incoming);
    xff_out.append(", ");
    xff_out.append(peer_ip);
}

}  // namespace tg::routing

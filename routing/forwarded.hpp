#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/net.hpp"
#include "config/snapshot.hpp"

/// X-Forwarded-For and the client address (SPEC §2 trusted_proxies, §3 Odoo specifics).
namespace tg::routing {

/// Builds the X-Forwarded-For value to send upstream and the effective client IP.
/// From a peer inside `trusted_proxies`, `incoming_xff` (empty if absent; several headers
/// pre-joined with ", ") is extended with `peer_ip`, and the client is the rightmost entry that
/// is not itself a trusted proxy (the leftmost if all are; `peer_ip` if an entry is not an
/// address). From any other peer the header is replaced by `peer_ip`, which is also the client,
/// so a client cannot spoof its address. Either way the last entry is `peer_ip`: Odoo's
/// proxy_mode trusts exactly one hop (werkzeug ProxyFix x_for=1). Entries may carry a port
/// ("192.0.2.1:4711", "[2001:db8::1]:443"), which is dropped from `client_ip_out`.
/// The outputs keep their capacity across calls and must not alias the inputs.
void forwarded_for(std::string_view peer_ip, const config::IpAddress& peer,
                   std::string_view incoming_xff, std::span<const config::Cidr> trusted_proxies,
                   std::string& xff_out, std::string& client_ip_out);

}  // namespace tg::routing

#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "config/net.hpp"

/// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a load
/// balancer puts before a connection's first byte to say whom it relays. Pure code over bytes,
/// no I/O and no exceptions, so the session, the tests and a fuzzer call the same function.
namespace tg::proxy::proxy_protocol {

/// An address and port as a PROXY header carries them.
struct Endpoint {
    config::IpAddress address;
    std::uint16_t port = 0;

    bool operator==(const Endpoint&) const = default;
};

/// What a complete header says.
struct Header {
    std::size_t length = 0;  ///< bytes the header takes; the connection's own bytes follow
    int version = 0;         ///< 1 (text) or 2 (binary)
    /// LOCAL (v2), UNKNOWN (v1) or a family this TCP proxy cannot relay: the sender speaks for
    /// itself (a load balancer's health check), so the connection's real peer is the client.
    bool local = false;
    Endpoint source;       ///< the client, when not `local`
    Endpoint destination;  ///< the address the client connected to, when not `local`
};

enum class Status {
    need_more,  ///< a valid prefix: read more bytes and call again with all of them
    malformed,  ///< not a PROXY header, or a broken one: close the connection
    parsed,     ///< `header` is complete
};

struct ParseResult {
    Status status = Status::need_more;
    std::string_view reason;  ///< why, when malformed (static text)
    Header header;
};

/// v1's longest line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses).
inline constexpr std::size_t max_v1_length = 107;
/// v2: the 16-byte fixed part and at most 1 KiB of addresses and TLVs, more than any load
/// balancer sends (AWS NLB's VPC endpoint id, Azure's LinkID); a longer one is refused.
inline constexpr std::size_t max_v2_length = 16 + 1024;
/// A reader never needs to buffer more than this to get a verdict.
inline constexpr std::size_t max_length = max_v2_length;
/// A v2 header for a TCP connection over IPv6, the longest `write_v2` makes.
inline constexpr std::size_t max_written_length = 16 + 36;

/// Parses the header at the start of `bytes` (which may hold the connection's next bytes as
/// well). Decides as early as it can: a first byte that starts neither version is malformed.
ParseResult parse(std::span<const std::uint8_t> bytes);

/// Writes a v2 PROXY header for a TCP connection from `source` to `destination` into `out` and
/// returns its length. Both addresses IPv4: AF_INET; otherwise AF_INET6, IPv4 as ::ffff:a.b.c.d.
std::size_t write_v2(const Endpoint& source, const Endpoint& destination,
                     std::span<std::uint8_t, max_written_length> out);

/// A v2 LOCAL header: a connection the sender makes for itself (a health check).
std::string_view local_v2_header();

}  // namespace tg::proxy::proxy_protocol

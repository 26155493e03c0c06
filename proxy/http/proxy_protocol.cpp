#include "proxy/http/proxy_protocol.hpp"

#include <algorithm>
#include <array>

namespace tg::proxy::proxy_protocol {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t v2_fixed_length = 16;
constexpr std::uint8_t v2_version = 0x20;
constexpr std::uint8_t command_local = 0x0;
constexpr std::uint8_t command_proxy = 0x1;
constexpr std::uint8_t family_unspec = 0x0;
constexpr std::uint8_t family_inet = 0x1;
constexpr std::uint8_t family_inet6 = 0x2;
constexpr std::uint8_t family_unix = 0x3;
constexpr std::uint8_t transport_unspec = 0x0;
constexpr std::uint8_t transport_stream = 0x1;
constexpr std::uint8_t transport_dgram = 0x2;
constexpr std::size_t inet_addresses_length = 2 * 4 + 2 * 2;
constexpr std::size_t inet6_addresses_length = 2 * 16 + 2 * 2;

constexpr std::array<std::uint8_t, v2_fixed_length> local_header = {0x0D,
                                                                    0x0A,
                                                                    0x0D,
                                                                    0x0A,
                                                                    0x00,
                                                                    0x0D,
                                                                    0x0A,
                                                                    0x51,
                                                                    0x55,
                                                                    0x49,
                                                                    0x54,
                                                                    0x0A,
                                                                    v2_version | command_local,
                                                                    0x00,
                                                                    0x00,
                                                                    0x00};

ParseResult malformed(std::string_view reason) {
    return {Status::malformed, reason, {}};
}

/// Whether the first bytes of `bytes` (as many as there are, up to the size of `prefix`) match.
template <class Prefix>
bool starts_like(std::span<const std::uint8_t> bytes, const Prefix& prefix) {
    const std::size_t n = std::min(bytes.size(), std::size(prefix));
    for (std::size_t i = 0; i < n; ++i)
        if (bytes[i] != static_cast<std::uint8_t>(prefix[i])) return false;
    return true;
}

/// The next space-delimited field of `line`, removed from it; empty if the spaces are not single.
std::string_view next_field(std::string_view& line) {
    const auto space = line.find(' ');
    const auto field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    return field;
}

/// A decimal port in [0, 65535] without leading zeros, as v1 requires.
bool parse_port(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
    std::uint32_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (value > 0xFFFF) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

/// An address of the line's family: TCP4 dotted quad (no leading zeros: inet_pton refuses
/// them), TCP6 colon form. An IPv4-mapped TCP6 address is kept as the IPv4 it stands for.
bool parse_address(std::string_view text, bool v6, config::IpAddress& address) {
    const bool has_colon = text.find(':') != std::string_view::npos;
    if (has_colon != v6) return false;
    const auto parsed = config::parse_ip(text);
    if (!parsed) return false;
    address = *parsed;
    return true;
}

/// `line` is what lies between "PROXY " and the CRLF.
ParseResult parse_v1_line(std::string_view line, std::size_t length) {
    ParseResult result{Status::parsed, {}, {}};
    result.header.length = length;
    result.header.version = 1;
    const auto protocol = next_field(line);
    if (protocol == "UNKNOWN") {
        // The receiver "must ignore anything presented before the CRLF".
        result.header.local = true;
        return result;
    }
    if (protocol != "TCP4" && protocol != "TCP6") return malformed("unknown v1 protocol");
    const bool v6 = protocol == "TCP6";
    auto& header = result.header;
    if (!parse_address(next_field(line), v6, header.source.address))
        return malformed("bad v1 source address");
    if (!parse_address(next_field(line), v6, header.destination.address))
        return malformed("bad v1 destination address");
    if (!parse_port(next_field(line), header.source.port)) return malformed("bad v1 source port");
    const auto destination_port = line;  // the last field runs to the CRLF
    if (!parse_port(destination_port, header.destination.port))
        return malformed("bad v1 destination port");
    return result;
}

ParseResult parse_v1(std::span<const std::uint8_t> bytes) {
    const std::size_t scan = std::min(bytes.size(), max_v1_length);
    for (std::size_t i = v1_prefix.size(); i < scan; ++i) {
        if (bytes[i] == '\n') return malformed("v1 line ends in LF without CR");
        if (bytes[i] != '\r') {
            // Printable ASCII only: a NUL would end the address text early for inet_pton.
            if (bytes[i] < 0x20 || bytes[i] > 0x7E) return malformed("v1 line has a control byte");
            continue;
        }
        if (i + 1 == max_v1_length) return malformed("v1 line longer than 107 bytes");
        if (i + 1 == bytes.size()) return {};  // the LF may be on its way
        if (bytes[i + 1] != '\n') return malformed("v1 line has a CR without LF");
        const std::string_view line(reinterpret_cast<const char*>(bytes.data()) + v1_prefix.size(),
                                    i - v1_prefix.size());
        return parse_v1_line(line, i + 2);
    }
    if (bytes.size() >= max_v1_length) return malformed("v1 line longer than 107 bytes");
    return {};
}

std::uint16_t read_u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void write_u16(std::uint8_t* p, std::uint16_t value) {
    p[0] = static_cast<std::uint8_t>(value >> 8);
    p[1] = static_cast<std::uint8_t>(value & 0xFF);
}

ParseResult parse_v2(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < v2_fixed_length) return {};
    const std::uint8_t version_command = bytes[12];
    if ((version_command & 0xF0) != v2_version) return malformed("unsupported v2 version");
    const std::uint8_t command = version_command & 0x0F;
    if (command != command_local && command != command_proxy)
        return malformed("unknown v2 command");
    const std::uint8_t family = bytes[13] >> 4;
    const std::uint8_t transport = bytes[13] & 0x0F;
    if (family > family_unix) return malformed("unknown v2 address family");
    if (transport > transport_dgram) return malformed("unknown v2 transport protocol");
    const std::size_t length = v2_fixed_length + read_u16(&bytes[14]);
    if (length > max_v2_length) return malformed("v2 header longer than 1040 bytes");
    if (bytes.size() < length) return {};

    ParseResult result{Status::parsed, {}, {}};
    auto& header = result.header;
    header.length = length;
    header.version = 2;
    // LOCAL ignores the family; UNSPEC, UNIX and datagrams are valid but not TCP peers this
    // proxy could stand for: the spec's fallback is the real connection's addresses.
    const bool tcp =
        transport == transport_stream && (family == family_inet || family == family_inet6);
    if (command == command_local || !tcp) {
        header.local = true;
        return result;
    }
    const std::uint8_t* addresses = bytes.data() + v2_fixed_length;
    const std::size_t address_size = family == family_inet ? 4 : 16;
    if (length - v2_fixed_length <
        (family == family_inet ? inet_addresses_length : inet6_addresses_length))
        return malformed("v2 address block too short for its family");
    for (auto* endpoint : {&header.source, &header.destination}) {
        endpoint->address.v6 = family == family_inet6;
        std::copy_n(addresses, address_size, endpoint->address.bytes.begin());
        addresses += address_size;
    }
    header.source.port = read_u16(addresses);
    header.destination.port = read_u16(addresses + 2);
    // TLVs (AWS's VPC endpoint id, Azure's LinkID, ALPN...) are skipped: nothing here uses them.
    return result;
}

std::array<std::uint8_t, 16> as_v6(const config::IpAddress& address) {
    if (address.v6) return address.bytes;
    std::array<std::uint8_t, 16> mapped{};
    mapped[10] = 0xFF;
    mapped[11] = 0xFF;
    std::copy_n(address.bytes.begin(), 4, mapped.begin() + 12);
    return mapped;
}

}  // namespace

ParseResult parse(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return {};
    if (bytes[0] == v2_signature[0]) {
        if (!starts_like(bytes, v2_signature)) return malformed("not a PROXY header");
        return parse_v2(bytes);
    }
    if (!starts_like(bytes, v1_prefix)) return malformed("not a PROXY header");
    return parse_v1(bytes);
}

std::size_t write_v2(const Endpoint& source, const Endpoint& destination,
                     std::span<std::uint8_t, max_written_length> out) {
    std::copy(v2_signature.begin(), v2_signature.end(), out.begin());
    out[12] = v2_version | command_proxy;
    const bool v4 = !source.address.v6 && !destination.address.v6;
    out[13] =
        static_cast<std::uint8_t>(((v4 ? family_inet : family_inet6) << 4) | transport_stream);
    const std::size_t addresses_length = v4 ? inet_addresses_length : inet6_addresses_length;
    write_u16(&out[14], static_cast<std::uint16_t>(addresses_length));
    std::uint8_t* p = out.data() + v2_fixed_length;
    for (const auto* endpoint : {&source, &destination}) {
        if (v4) {
            p = std::copy_n(endpoint->address.bytes.begin(), 4, p);
        } else {
            const auto bytes = as_v6(endpoint->address);
            p = std::copy(bytes.begin(), bytes.end(), p);
        }
    }
    write_u16(p, source.port);
    write_u16(p + 2, destination.port);
    return v2_fixed_length + addresses_length;
}

std::string_view local_v2_header() {
    return {reinterpret_cast<const char*>(local_header.data()), local_header.size()};
}

}  // namespace tg::proxy::proxy_protocol

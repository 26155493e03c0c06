#include "proxy/http/proxy_protocol.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace pp = tg::proxy::proxy_protocol;
using pp::Status;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view text) {
    return Bytes(text.begin(), text.end());
}

pp::ParseResult parse(const Bytes& bytes) {
    return pp::parse(bytes);
}

pp::ParseResult parse(std::string_view text) {
    return parse(bytes_of(text));
}

pp::Endpoint endpoint(std::string_view address, std::uint16_t port) {
    const auto ip = tg::config::parse_ip(address);
    REQUIRE(ip);
    return {*ip, port};
}

const Bytes signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/// A v2 header: signature, version/command, family/transport, then `body` with its length.
Bytes v2(std::uint8_t version_command, std::uint8_t family_transport, const Bytes& body) {
    Bytes out = signature;
    out.push_back(version_command);
    out.push_back(family_transport);
    out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(body.size() & 0xFF));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

/// 192.0.2.1:56324 -> 198.51.100.7:443 as a v2 address block.
const Bytes inet_block = {192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x01, 0xBB};

Bytes inet6_block() {
    Bytes block = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                   0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
    block.insert(block.end(), {0x12, 0x34, 0x00, 0x50});
    return block;
}

/// Every proper prefix of a complete header asks for more bytes.
void check_every_prefix_needs_more(const Bytes& header) {
    for (std::size_t n = 0; n < header.size(); ++n) {
        const Bytes prefix(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(n));
        INFO("prefix of " << n << " bytes");
        CHECK(parse(prefix).status == Status::need_more);
    }
}

}  // namespace

TEST_CASE("v1 TCP4: every field", "[proxy][proxy_protocol]") {
    const auto result = parse("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\n");
    REQUIRE(result.status == Status::parsed);
    const auto& header = result.header;
    CHECK(header.version == 1);
    CHECK_FALSE(header.local);
    CHECK(header.length == 45);
    CHECK(header.source == endpoint("192.0.2.1", 56324));
    CHECK(header.destination == endpoint("198.51.100.7", 443));
}

TEST_CASE("v1 TCP6, the longest lines and port bounds", "[proxy][proxy_protocol]") {
    const auto result = parse("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n");
    REQUIRE(result.status == Status::parsed);
    CHECK(result.header.source == endpoint("2001:db8::1", 0));
    CHECK(result.header.source.address.v6);
    CHECK(result.header.destination == endpoint("2001:db8::2", 65535));

    const std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string longest = "PROXY TCP6 " + full + " " + full + " 65535 65535\r\n";
    REQUIRE(longest.size() == 104);
    CHECK(parse(longest).status == Status::parsed);

    const std::string unknown_longest = "PROXY UNKNOWN " + full + " " + full + " 65535 65535\r\n";
    REQUIRE(unknown_longest.size() == pp::max_v1_length);
    CHECK(parse(unknown_longest).status == Status::parsed);
    // One byte more and the CRLF is past the 107th byte.
    const auto too_long = parse("PROXY UNKNOWN " + full + " " + full + " 65535 655355\r\n");
    CHECK(too_long.status == Status::malformed);
    CHECK(too_long.reason == "v1 line longer than 107 bytes");

    // An IPv4-mapped TCP6 address is the IPv4 it stands for.
    const auto mapped = parse("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
    REQUIRE(mapped.status == Status::parsed);
    CHECK(mapped.header.source == endpoint("192.0.2.1", 1));
}

TEST_CASE("v1 UNKNOWN uses the real peer", "[proxy][proxy_protocol]") {
    for (const std::string_view line :
         {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN 192.0.2.1 198.51.100.7 1 2\r\n",
          "PROXY UNKNOWN whatever the sender likes\r\n"}) {
        INFO(line);
        const auto result = parse(line);
        REQUIRE(result.status == Status::parsed);
        CHECK(result.header.local);
        CHECK(result.header.length == line.size());
    }
}

TEST_CASE("v1 truncated at every byte needs more", "[proxy][proxy_protocol]") {
    check_every_prefix_needs_more(bytes_of("PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"));
    check_every_prefix_needs_more(bytes_of("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"));
    check_every_prefix_needs_more(bytes_of("PROXY UNKNOWN\r\n"));
}

TEST_CASE("v1 malformed lines", "[proxy][proxy_protocol]") {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"PROXY TCP5 192.0.2.1 198.51.100.7 1 2\r\n", "unknown v1 protocol"},
        {"PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n", "unknown v1 protocol"},
        {"PROXY UNKNOWNX\r\n", "unknown v1 protocol"},
        {"PROXY \r\n", "unknown v1 protocol"},
        {"PROXY TCP4\r\n", "bad v1 source address"},
        {"PROXY TCP4 192.0.2.1\r\n", "bad v1 destination address"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7\r\n", "bad v1 source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n", "bad v1 destination port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2 3\r\n", "bad v1 destination port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n", "bad v1 destination port"},
        {"PROXY TCP4  192.0.2.1 198.51.100.7 1 2\r\n", "bad v1 source address"},
        {"PROXY TCP4 192.0.2.1  198.51.100.7 1 2\r\n", "bad v1 destination address"},
        {"PROXY TCP4 192.0.2.01 198.51.100.7 1 2\r\n", "bad v1 source address"},
        {"PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n", "bad v1 source address"},
        {"PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n", "bad v1 source address"},
        {"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", "bad v1 source address"},
        {"PROXY TCP6 2001:db8::1 198.51.100.7 1 2\r\n", "bad v1 destination address"},
        {"PROXY TCP4 example.com 198.51.100.7 1 2\r\n", "bad v1 source address"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 65536 2\r\n", "bad v1 source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 01 2\r\n", "bad v1 source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 -1 2\r\n", "bad v1 source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 +1 2\r\n", "bad v1 source port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 1 100000\r\n", "bad v1 destination port"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n", "v1 line ends in LF without CR"},
        {"PROXY TCP4 192.0.2.1 198.51.100.7 1 2\rX", "v1 line has a CR without LF"},
        {"PROXY TCP4 192.0.2.1\t198.51.100.7 1 2\r\n", "v1 line has a control byte"},
    };
    for (const auto& [line, reason] : cases) {
        INFO(line);
        const auto result = parse(line);
        CHECK(result.status == Status::malformed);
        CHECK(result.reason == reason);
    }
    // A NUL would end the address text early for inet_pton: refused, not read as 192.0.2.1.
    const std::string with_nul("PROXY TCP4 192.0.2.1\0x 198.51.100.7 1 2\r\n", 41);
    CHECK(parse(with_nul).reason == "v1 line has a control byte");
}

TEST_CASE("v1 without a CRLF in 107 bytes is malformed", "[proxy][proxy_protocol]") {
    std::string line = "PROXY UNKNOWN ";
    line.resize(pp::max_v1_length - 1, 'a');
    CHECK(parse(line).status == Status::need_more);
    line.push_back('a');
    const auto result = parse(line);
    CHECK(result.status == Status::malformed);
    CHECK(result.reason == "v1 line longer than 107 bytes");
    // A CR as the 107th byte leaves no room for the LF.
    line.back() = '\r';
    CHECK(parse(line).reason == "v1 line longer than 107 bytes");
}

TEST_CASE("anything else is refused at its first differing byte", "[proxy][proxy_protocol]") {
    const std::string_view garbage_cases[] = {
        "GET / HTTP/1.1\r\n", "G",         "proxy TCP4",
        "PROXY\r\n",          "PROXYTCP4", "\x16\x03\x01",
        "\r\n\r\n\x01",       "\r\r",      std::string_view("\0", 1)};
    for (const auto garbage : garbage_cases) {
        INFO(garbage);
        const auto result = parse(garbage);
        CHECK(result.status == Status::malformed);
        CHECK(result.reason == "not a PROXY header");
    }
    CHECK(parse("").status == Status::need_more);
    CHECK(parse("PROX").status == Status::need_more);
    CHECK(parse("\r\n\r\n").status == Status::need_more);
}

TEST_CASE("v2 PROXY over IPv4: every field", "[proxy][proxy_protocol]") {
    Bytes header = v2(0x21, 0x11, inet_block);
    const Bytes request = bytes_of("GET / HTTP/1.1\r\n");
    Bytes wire = header;
    wire.insert(wire.end(), request.begin(), request.end());
    const auto result = parse(wire);
    REQUIRE(result.status == Status::parsed);
    CHECK(result.header.version == 2);
    CHECK_FALSE(result.header.local);
    CHECK(result.header.length == 28);
    CHECK(result.header.source == endpoint("192.0.2.1", 56324));
    CHECK(result.header.destination == endpoint("198.51.100.7", 443));
    check_every_prefix_needs_more(header);
}

TEST_CASE("v2 PROXY over IPv6", "[proxy][proxy_protocol]") {
    const Bytes header = v2(0x21, 0x21, inet6_block());
    const auto result = parse(header);
    REQUIRE(result.status == Status::parsed);
    CHECK(result.header.length == 52);
    CHECK(result.header.source == endpoint("2001:db8::1", 0x1234));
    CHECK(result.header.destination == endpoint("2001:db8::2", 80));
    check_every_prefix_needs_more(header);
}

TEST_CASE("v2 TLVs are skipped", "[proxy][proxy_protocol]") {
    Bytes body = inet_block;
    // PP2_TYPE_AWS (0xEA) with a VPC endpoint id, then PP2_TYPE_NOOP padding.
    const std::string_view vpce = "\x01vpce-08d2bf15fac5001c9";
    body.push_back(0xEA);
    body.push_back(0);
    body.push_back(static_cast<std::uint8_t>(vpce.size()));
    body.insert(body.end(), vpce.begin(), vpce.end());
    body.insert(body.end(), {0x04, 0x00, 0x02, 0x00, 0x00});
    const Bytes header = v2(0x21, 0x11, body);
    const auto result = parse(header);
    REQUIRE(result.status == Status::parsed);
    CHECK(result.header.length == header.size());
    CHECK(result.header.source == endpoint("192.0.2.1", 56324));
    check_every_prefix_needs_more(header);
}

TEST_CASE("v2 LOCAL and unsupported families use the real peer", "[proxy][proxy_protocol]") {
    // LOCAL: the family and any address block are ignored, whatever the length says.
    for (const auto& header :
         {v2(0x20, 0x00, {}), v2(0x20, 0x11, inet_block), v2(0x20, 0x11, {1, 2, 3}),
          v2(0x21, 0x00, {}), v2(0x21, 0x31, Bytes(216, 0)), v2(0x21, 0x12, inet_block),
          v2(0x21, 0x10, inet_block)}) {
        INFO("family/transport byte " << int(header[13]) << ", command " << int(header[12]));
        const auto result = parse(header);
        REQUIRE(result.status == Status::parsed);
        CHECK(result.header.local);
        CHECK(result.header.length == header.size());
    }
    CHECK(pp::parse(bytes_of(pp::local_v2_header())).header.local);
    CHECK(pp::local_v2_header().size() == 16);
}

TEST_CASE("v2 malformed headers", "[proxy][proxy_protocol]") {
    const std::pair<Bytes, std::string_view> cases[] = {
        {v2(0x11, 0x11, inet_block), "unsupported v2 version"},
        {v2(0x31, 0x11, inet_block), "unsupported v2 version"},
        {v2(0x22, 0x11, inet_block), "unknown v2 command"},
        {v2(0x2F, 0x11, inet_block), "unknown v2 command"},
        {v2(0x21, 0x41, inet_block), "unknown v2 address family"},
        {v2(0x21, 0x13, inet_block), "unknown v2 transport protocol"},
        {v2(0x21, 0x11, Bytes(inet_block.begin(), inet_block.end() - 1)),
         "v2 address block too short for its family"},
        {v2(0x21, 0x21, inet_block), "v2 address block too short for its family"},
        {v2(0x21, 0x11, Bytes(pp::max_v2_length - 16 + 1, 0)), "v2 header longer than 1040 bytes"},
    };
    for (const auto& [header, reason] : cases) {
        INFO(reason);
        const auto result = parse(header);
        CHECK(result.status == Status::malformed);
        CHECK(result.reason == reason);
    }
    CHECK(parse(v2(0x21, 0x11, Bytes(pp::max_v2_length - 16, 0))).status == Status::parsed);
    // The length is refused as soon as it is read, before its bytes arrive.
    Bytes oversize = signature;
    oversize.insert(oversize.end(), {0x21, 0x11, 0xFF, 0xFF});
    CHECK(parse(oversize).reason == "v2 header longer than 1040 bytes");
    // A damaged signature.
    for (std::size_t i = 1; i < signature.size(); ++i) {
        Bytes damaged = v2(0x21, 0x11, inet_block);
        damaged[i] ^= 0x20;
        INFO("signature byte " << i);
        CHECK(parse(damaged).reason == "not a PROXY header");
    }
}

TEST_CASE("write_v2 makes headers parse reads back", "[proxy][proxy_protocol]") {
    std::array<std::uint8_t, pp::max_written_length> out{};
    const auto check_round_trip = [&](const pp::Endpoint& source, const pp::Endpoint& destination,
                                      std::size_t length, const pp::Endpoint& source_read,
                                      const pp::Endpoint& destination_read) {
        REQUIRE(pp::write_v2(source, destination, out) == length);
        const auto result = pp::parse(std::span(out.data(), length));
        REQUIRE(result.status == Status::parsed);
        CHECK(result.header.length == length);
        CHECK_FALSE(result.header.local);
        CHECK(result.header.source == source_read);
        CHECK(result.header.destination == destination_read);
    };
    const auto v4_source = endpoint("127.0.0.2", 40000);
    const auto v4_destination = endpoint("10.0.0.1", 8080);
    check_round_trip(v4_source, v4_destination, 28, v4_source, v4_destination);
    CHECK(Bytes(out.begin(), out.begin() + 12) == signature);
    CHECK(out[12] == 0x21);
    CHECK(out[13] == 0x11);
    const auto v6_source = endpoint("2001:db8::1", 1);
    const auto v6_destination = endpoint("2001:db8::2", 65535);
    check_round_trip(v6_source, v6_destination, 52, v6_source, v6_destination);
    CHECK(out[13] == 0x21);
    // Mixed families: IPv6, with the IPv4 address mapped.
    pp::Endpoint mapped = v4_source;
    mapped.address.v6 = true;
    mapped.address.bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 2};
    check_round_trip(v4_source, v6_destination, 52, mapped, v6_destination);
}

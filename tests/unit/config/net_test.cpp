#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/net.hpp"

using namespace tg::config;

namespace {

IpAddress ip(std::string_view text) {
    const auto parsed = parse_ip(text);
    REQUIRE(parsed);
    return *parsed;
}

Cidr cidr(std::string_view text) {
    const auto parsed = parse_cidr(text);
    REQUIRE(parsed);
    return *parsed;
}

}  // namespace

TEST_CASE("parse_ip reads IPv4 and IPv6", "[config][net]") {
    const auto v4 = ip("192.0.2.10");
    CHECK_FALSE(v4.v6);
    CHECK(v4.bytes[0] == 192);
    CHECK(v4.bytes[3] == 10);
    CHECK(v4.bytes[4] == 0);

    const auto loopback = ip("::1");
    CHECK(loopback.v6);
    CHECK(loopback.bytes[15] == 1);
    CHECK(loopback.bytes[0] == 0);

    const auto doc = ip("2001:DB8::ff00:42:8329");
    CHECK(doc.v6);
    CHECK(doc.bytes[0] == 0x20);
    CHECK(doc.bytes[1] == 0x01);
    CHECK(doc.bytes[15] == 0x29);
}

TEST_CASE("parse_ip folds IPv4-mapped IPv6 to IPv4", "[config][net]") {
    const auto mapped = ip("::ffff:192.0.2.1");
    CHECK_FALSE(mapped.v6);
    CHECK(mapped.bytes == ip("192.0.2.1").bytes);
    // Only the ::ffff:0:0/96 form is mapped; the deprecated compatible form stays IPv6.
    CHECK(ip("::192.0.2.1").v6);
}

TEST_CASE("parse_ip rejects malformed text", "[config][net]") {
    for (const char* bad :
         {"", "1.2.3", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/32",
          "fe80::1%eth0", "[::1]", ":::1", "1::2::3", "localhost", "::ffff:1.2.3.256"}) {
        INFO(bad);
        CHECK_FALSE(parse_ip(bad));
    }
}

TEST_CASE("parse_cidr masks host bits and keeps the text", "[config][net]") {
    const auto net8 = cidr("10.1.2.3/8");
    CHECK_FALSE(net8.v6);
    CHECK(net8.prefix_len == 8);
    CHECK(net8.bytes == cidr("10.0.0.0/8").bytes);
    CHECK(net8.text == "10.1.2.3/8");

    const auto net23 = cidr("192.168.1.255/23");
    CHECK(net23.bytes[2] == 0);
    CHECK(net23.bytes[3] == 0);

    const auto v6 = cidr("2001:db8:ffff::1/33");
    CHECK(v6.v6);
    CHECK(v6.bytes[4] == 0x80);
    CHECK(v6.bytes[5] == 0);
    CHECK(v6.bytes[15] == 0);
}

TEST_CASE("parse_cidr: bare addresses, /0 and mapped prefixes", "[config][net]") {
    CHECK(cidr("192.0.2.7").prefix_len == 32);
    CHECK(cidr("::1").prefix_len == 128);
    CHECK(cidr("0.0.0.0/0").prefix_len == 0);
    CHECK(cidr("255.255.255.255/0").bytes == cidr("0.0.0.0/0").bytes);
    CHECK(cidr("::/0").v6);

    const auto mapped = cidr("::ffff:10.0.0.0/104");
    CHECK_FALSE(mapped.v6);
    CHECK(mapped.prefix_len == 8);
    CHECK(cidr("::ffff:0:0/80").v6);  // shorter than the mapped prefix: stays IPv6
}

TEST_CASE("parse_cidr rejects malformed prefixes", "[config][net]") {
    for (const char* bad :
         {"", "10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/-1", "10.0.0.0/8/8",
          "10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0/8", "x/8", "10.0.0.0/999999"}) {
        INFO(bad);
        CHECK_FALSE(parse_cidr(bad));
    }
}

TEST_CASE("contains matches prefixes at their boundaries", "[config][net]") {
    const auto net = cidr("192.168.0.0/23");
    CHECK(contains(net, ip("192.168.0.0")));
    CHECK(contains(net, ip("192.168.1.255")));
    CHECK_FALSE(contains(net, ip("192.168.2.0")));
    CHECK_FALSE(contains(net, ip("192.167.255.255")));

    CHECK(contains(cidr("0.0.0.0/0"), ip("203.0.113.9")));
    CHECK(contains(cidr("192.0.2.7"), ip("192.0.2.7")));
    CHECK_FALSE(contains(cidr("192.0.2.7"), ip("192.0.2.8")));

    const auto v6 = cidr("2001:db8::/32");
    CHECK(contains(v6, ip("2001:db8:ffff::1")));
    CHECK_FALSE(contains(v6, ip("2001:db9::1")));
}

TEST_CASE("contains across address families", "[config][net]") {
    // A v4 rule never matches a native v6 client, and the reverse.
    CHECK_FALSE(contains(cidr("0.0.0.0/0"), ip("::1")));
    CHECK_FALSE(contains(cidr("::1"), ip("0.0.0.1")));
    // "::/0" means everything, v4 clients included (through their mapped form).
    CHECK(contains(cidr("::/0"), ip("198.51.100.1")));
    CHECK(contains(cidr("::ffff:0:0/96"), ip("198.51.100.1")));

    // A client seen on a dual-stack socket arrives as a mapped v6 address.
    IpAddress from_socket;
    from_socket.v6 = true;
    from_socket.bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    CHECK(contains(cidr("10.0.0.0/8"), from_socket));
    CHECK_FALSE(contains(cidr("11.0.0.0/8"), from_socket));
}

TEST_CASE("contains_any", "[config][net]") {
    const std::vector<Cidr> none;
    CHECK_FALSE(contains_any(none, ip("10.0.0.1")));
    const std::vector<Cidr> nets{cidr("10.0.0.0/8"), cidr("2001:db8::/32")};
    CHECK(contains_any(nets, ip("10.9.9.9")));
    CHECK(contains_any(nets, ip("2001:db8::5")));
    CHECK_FALSE(contains_any(nets, ip("192.0.2.1")));
}

TEST_CASE("is_dns_name", "[config][net]") {
    CHECK(is_dns_name("odoo-acme-blue.acme.svc"));
    CHECK(is_dns_name("localhost"));
    CHECK(is_dns_name("_srv.example.com"));
    CHECK(is_dns_name(std::string(63, 'a') + ".com"));
    CHECK_FALSE(is_dns_name(std::string(64, 'a') + ".com"));
    std::string long_name;
    while (long_name.size() < 250) long_name += "abcdefghi.";
    CHECK(is_dns_name(long_name + "com"));  // 253 characters: the limit
    CHECK_FALSE(is_dns_name(long_name + "comm"));
    for (const char* bad : {"", ".", "a..b", "a.", ".a", "-a.com", "a-.com", "a b", "a*.com",
                            "10.1.0.300", "1.2.3"}) {
        INFO(bad);
        CHECK_FALSE(is_dns_name(bad));
    }
}

TEST_CASE("parse_host_port reads the SPEC forms", "[config][net]") {
    const auto ip_port = parse_host_port("10.1.0.11:8069");
    REQUIRE(ip_port);
    CHECK(ip_port->host == "10.1.0.11");
    CHECK(ip_port->port == 8069);
    CHECK(ip_port->text == "10.1.0.11:8069");

    const auto dns = parse_host_port("Odoo.ACME.svc:8069");
    REQUIRE(dns);
    CHECK(dns->host == "odoo.acme.svc");
    CHECK(dns->text == "Odoo.ACME.svc:8069");

    const auto v6 = parse_host_port("[::1]:8069");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == 8069);

    CHECK(parse_host_port("0.0.0.0:8080")->port == 8080);
    CHECK(parse_host_port("[::]:65535")->port == 65535);
}

TEST_CASE("parse_host_port: port 0 only where allowed", "[config][net]") {
    CHECK_FALSE(parse_host_port("127.0.0.1:0"));
    CHECK(check_host_port("127.0.0.1:0") == HostPortError::bad_port);
    const auto any = parse_host_port("127.0.0.1:0", true);
    REQUIRE(any);
    CHECK(any->port == 0);
}

TEST_CASE("check_host_port explains rejections", "[config][net]") {
    CHECK(check_host_port("10.1.0.11:8069") == HostPortError::none);
    CHECK(check_host_port("10.1.0.11") == HostPortError::missing_port);
    CHECK(check_host_port("odoo.acme.svc") == HostPortError::missing_port);
    CHECK(check_host_port("odoo:") == HostPortError::missing_port);
    CHECK(check_host_port("[::1]") == HostPortError::missing_port);
    CHECK(check_host_port("odoo:65536") == HostPortError::bad_port);
    CHECK(check_host_port("odoo:http") == HostPortError::bad_port);
    CHECK(check_host_port("odoo:-1") == HostPortError::bad_port);
    CHECK(check_host_port("odoo:80 ") == HostPortError::bad_port);
    CHECK(check_host_port("::1:8069") == HostPortError::bad_host);
    CHECK(check_host_port("[10.0.0.1]:80") == HostPortError::bad_host);
    CHECK(check_host_port("[::1:80") == HostPortError::bad_host);
    CHECK(check_host_port("[::1]x:80") == HostPortError::bad_host);
    CHECK(check_host_port(":8069") == HostPortError::bad_host);
    CHECK(check_host_port("bad_host!:80") == HostPortError::bad_host);
    CHECK(check_host_port("10.1.0.300:80") == HostPortError::bad_host);
    CHECK(check_host_port("") == HostPortError::bad_host);
}

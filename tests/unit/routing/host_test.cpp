#include "routing/host.hpp"

#include <catch2/catch.hpp>
#include <string>

using tg::routing::normalize_host;

namespace {

/// normalize_host's output, or "<invalid>" when it refuses the value.
std::string normalized(std::string_view header) {
    std::string out = "untouched";
    if (!normalize_host(header, out)) {
        CHECK(out == "untouched");
        return "<invalid>";
    }
    return out;
}

}  // namespace

TEST_CASE("normalize_host lower-cases and strips port and trailing dot", "[routing][host]") {
    CHECK(normalized("erp.acme.com") == "erp.acme.com");
    CHECK(normalized("ERP.Acme.COM") == "erp.acme.com");
    CHECK(normalized("erp.acme.com:8080") == "erp.acme.com");
    CHECK(normalized("erp.acme.com.") == "erp.acme.com");
    CHECK(normalized("Erp.Acme.Com.:443") == "erp.acme.com");
    CHECK(normalized("erp.acme.com..") == "erp.acme.com.");
    CHECK(normalized("localhost") == "localhost");
    CHECK(normalized("10.1.0.11:8069") == "10.1.0.11");
    CHECK(normalized("my_host.example") == "my_host.example");
}

TEST_CASE("normalize_host keeps IPv6 literals bracketed", "[routing][host]") {
    CHECK(normalized("[::1]") == "[::1]");
    CHECK(normalized("[::1]:8080") == "[::1]");
    CHECK(normalized("[2001:DB8::A]:443") == "[2001:db8::a]");
    CHECK(normalized("[::ffff:192.0.2.1]") == "[::ffff:192.0.2.1]");
    CHECK(normalized("[1:2:3:4:5:6:7:8]") == "[1:2:3:4:5:6:7:8]");
    CHECK(normalized("[1:2:3:4:5:6:7::]") == "[1:2:3:4:5:6:7::]");
    CHECK(normalized("[::]") == "[::]");
}

TEST_CASE("normalize_host refuses invalid hosts", "[routing][host]") {
    CHECK(normalized("") == "<invalid>");
    CHECK(normalized(".") == "<invalid>");
    CHECK(normalized(":8080") == "<invalid>");
    CHECK(normalized("erp acme.com") == "<invalid>");
    CHECK(normalized(" erp.acme.com") == "<invalid>");
    CHECK(normalized("erp.acme.com ") == "<invalid>");
    CHECK(normalized("erp.acme.com\t") == "<invalid>");
    CHECK(normalized("erp/acme.com") == "<invalid>");
    CHECK(normalized("user@erp.acme.com") == "<invalid>");
    CHECK(normalized("erp%2eacme.com") == "<invalid>");
    CHECK(normalized("erp.acme.com\r\nX-Evil: 1") == "<invalid>");
    CHECK(normalized("\xc3\xa9rp.acme.com") == "<invalid>");
}

TEST_CASE("normalize_host refuses bad ports", "[routing][host]") {
    CHECK(normalized("erp.acme.com:65535") == "erp.acme.com");
    CHECK(normalized("erp.acme.com:") == "erp.acme.com");  // RFC 3986 §3.2.3: empty port
    CHECK(normalized("erp.acme.com:65536") == "<invalid>");
    CHECK(normalized("erp.acme.com:99999999999999999999") == "<invalid>");
    CHECK(normalized("erp.acme.com:80a") == "<invalid>");
    CHECK(normalized("erp.acme.com:-1") == "<invalid>");
    CHECK(normalized("erp.acme.com:80:81") == "<invalid>");
    CHECK(normalized("[::1]:http") == "<invalid>");
    CHECK(normalized("[::1]8080") == "<invalid>");
}

TEST_CASE("normalize_host refuses malformed IP literals", "[routing][host]") {
    CHECK(normalized("::1") == "<invalid>");  // unbracketed IPv6
    CHECK(normalized("[::1") == "<invalid>");
    CHECK(normalized("[]") == "<invalid>");
    CHECK(normalized("[:::]") == "<invalid>");
    CHECK(normalized("[1::2::3]") == "<invalid>");
    CHECK(normalized("[1:2:3:4:5:6:7]") == "<invalid>");
    CHECK(normalized("[1:2:3:4:5:6:7:8:9]") == "<invalid>");
    CHECK(normalized("[1:2:3:4:5:6:7:8::]") == "<invalid>");
    CHECK(normalized("[12345::]") == "<invalid>");
    CHECK(normalized("[1:]") == "<invalid>");
    CHECK(normalized("[:1]") == "<invalid>");
    CHECK(normalized("[::g]") == "<invalid>");
    CHECK(normalized("[::1.2.3]") == "<invalid>");
    CHECK(normalized("[::1.2.3.256]") == "<invalid>");
    CHECK(normalized("[::01.2.3.4]") == "<invalid>");
    CHECK(normalized("[1.2.3.4]") == "<invalid>");
    CHECK(normalized("[fe80::1%25eth0]") == "<invalid>");  // RFC 6874 zone id
    CHECK(normalized("[v1.fe80::a+en1]") == "<invalid>");  // IPvFuture
}

TEST_CASE("normalize_host reuses the output buffer", "[routing][host]") {
    std::string out;
    out.reserve(64);
    const auto* data = out.data();
    REQUIRE(normalize_host("A-VERY-LONG-TENANT-NAME.erp.example.com:8443", out));
    CHECK(out == "a-very-long-tenant-name.erp.example.com");
    REQUIRE(normalize_host("x.io", out));
    CHECK(out == "x.io");
    CHECK(out.data() == data);
}

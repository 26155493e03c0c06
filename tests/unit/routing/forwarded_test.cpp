#include "routing/forwarded.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using tg::routing::forwarded_for;

namespace {

std::vector<tg::config::Cidr> trusted() {
    std::vector<tg::config::Cidr> cidrs;
    for (const char* text : {"10.0.0.0/8", "fd00::/8"}) {
        auto cidr = tg::config::parse_cidr(text);
        REQUIRE(cidr);
        cidrs.push_back(*cidr);
    }
    return cidrs;
}

/// {X-Forwarded-For sent upstream, client IP} for a request from `peer_ip`.
std::pair<std::string, std::string> forward(std::string_view peer_ip, std::string_view xff) {
    const auto peer = tg::config::parse_ip(peer_ip);
    REQUIRE(peer);
    const auto cidrs = trusted();
    std::string xff_out = "stale";
    std::string client_out = "stale";
    forwarded_for(peer_ip, *peer, xff, cidrs, xff_out, client_out);
    return {xff_out, client_out};
}

using Result = std::pair<std::string, std::string>;

}  // namespace

TEST_CASE("X-Forwarded-For from an untrusted peer is replaced", "[routing][forwarded]") {
    CHECK(forward("203.0.113.7", "") == Result{"203.0.113.7", "203.0.113.7"});
    CHECK(forward("203.0.113.7", "1.2.3.4") == Result{"203.0.113.7", "203.0.113.7"});
    CHECK(forward("203.0.113.7", "10.0.0.5, 1.2.3.4") == Result{"203.0.113.7", "203.0.113.7"});
    CHECK(forward("203.0.113.7", "garbage") == Result{"203.0.113.7", "203.0.113.7"});
    CHECK(forward("2001:db8::7", "1.2.3.4") == Result{"2001:db8::7", "2001:db8::7"});
}

TEST_CASE("X-Forwarded-For from a trusted peer is extended", "[routing][forwarded]") {
    CHECK(forward("10.0.0.1", "") == Result{"10.0.0.1", "10.0.0.1"});
    CHECK(forward("10.0.0.1", "  ") == Result{"10.0.0.1", "10.0.0.1"});
    CHECK(forward("10.0.0.1", "203.0.113.7") == Result{"203.0.113.7, 10.0.0.1", "203.0.113.7"});
    CHECK(forward("fd00::1", "2001:db8::7") == Result{"2001:db8::7, fd00::1", "2001:db8::7"});
    CHECK(forward("10.0.0.1", " 203.0.113.7 ") == Result{"203.0.113.7, 10.0.0.1", "203.0.113.7"});
}

TEST_CASE("the client is the rightmost address that is not a trusted proxy",
          "[routing][forwarded]") {
    // The leftmost entry is whatever the client wrote: a spoof attempt.
    CHECK(forward("10.0.0.1", "198.51.100.9, 203.0.113.7").second == "203.0.113.7");
    CHECK(forward("10.0.0.1", "203.0.113.7, 10.0.0.5, 10.0.0.6") ==
          Result{"203.0.113.7, 10.0.0.5, 10.0.0.6, 10.0.0.1", "203.0.113.7"});
    CHECK(forward("10.0.0.1", "1.1.1.1, 203.0.113.7, fd00::5").second == "203.0.113.7");
    // Two headers joined by the caller.
    CHECK(forward("10.0.0.1", "198.51.100.9, 203.0.113.7, 10.0.0.5").second == "203.0.113.7");
    // All trusted: the leftmost is as far as we can see.
    CHECK(forward("10.0.0.1", "10.0.0.5, 10.0.0.6").second == "10.0.0.5");
    // IPv4-mapped entries match IPv4 rules.
    CHECK(forward("10.0.0.1", "203.0.113.7, ::ffff:10.0.0.5").second == "203.0.113.7");
}

TEST_CASE("X-Forwarded-For entries may carry ports and empty elements", "[routing][forwarded]") {
    CHECK(forward("10.0.0.1", "203.0.113.7:4711").second == "203.0.113.7");
    CHECK(forward("10.0.0.1", "[2001:db8::7]:443").second == "2001:db8::7");
    CHECK(forward("10.0.0.1", "[2001:db8::7]").second == "2001:db8::7");
    CHECK(forward("10.0.0.1", "203.0.113.7,, ,").second == "203.0.113.7");
    CHECK(forward("10.0.0.1", ",203.0.113.7").second == "203.0.113.7");
    CHECK(forward("10.0.0.1", ", ,") == Result{", ,, 10.0.0.1", "10.0.0.1"});
}

TEST_CASE("a garbage X-Forwarded-For leaves the peer as the client", "[routing][forwarded]") {
    CHECK(forward("10.0.0.1", "unknown") == Result{"unknown, 10.0.0.1", "10.0.0.1"});
    CHECK(forward("10.0.0.1", "203.0.113.7, _hidden").second == "10.0.0.1");
    CHECK(forward("10.0.0.1", "203.0.113.7, 10.0.0.5, 300.1.1.1").second == "10.0.0.1");
    CHECK(forward("10.0.0.1", "203.0.113.7 10.0.0.5").second == "10.0.0.1");
    CHECK(forward("10.0.0.1", "[2001:db8::7").second == "10.0.0.1");
    // Only the walk up to the client matters: garbage further left is never reached.
    CHECK(forward("10.0.0.1", "garbage, 203.0.113.7").second == "203.0.113.7");
}

TEST_CASE("forwarded_for reuses its output buffers", "[routing][forwarded]") {
    const auto peer = tg::config::parse_ip("10.0.0.1");
    REQUIRE(peer);
    const auto cidrs = trusted();
    std::string xff_out;
    std::string client_out;
    xff_out.reserve(128);
    client_out.reserve(64);
    const auto* xff_data = xff_out.data();
    const auto* client_data = client_out.data();
    for (int i = 0; i < 3; ++i) {
        forwarded_for("10.0.0.1", *peer, "198.51.100.9, 203.0.113.7", cidrs, xff_out, client_out);
        CHECK(xff_out == "198.51.100.9, 203.0.113.7, 10.0.0.1");
        CHECK(client_out == "203.0.113.7");
    }
    CHECK(xff_out.data() == xff_data);
    CHECK(client_out.data() == client_data);
}

#include "routing/balancer.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

using tg::config::Balance;
using tg::routing::BalanceRequest;
using tg::routing::EndpointView;
using tg::routing::odoo_session_id;
using tg::routing::select_endpoint;
using tg::routing::stable_hash;

namespace {

std::vector<EndpointView> endpoints(std::size_t count) {
    std::vector<EndpointView> list(count);
    for (std::size_t i = 0; i < count; ++i)
        list[i].id = stable_hash("10.1.0." + std::to_string(i + 10) + ":8069");
    return list;
}

/// How often each index is chosen over `rounds` selections (key: index, -1 for none).
std::map<long, int> counts(const BalanceRequest& request, int rounds, std::uint64_t& cursor) {
    std::map<long, int> seen;
    for (int i = 0; i < rounds; ++i) {
        const auto chosen = select_endpoint(request, cursor);
        ++seen[chosen ? static_cast<long>(*chosen) : -1];
    }
    return seen;
}

}  // namespace

TEST_CASE("round_robin cycles through every endpoint evenly", "[routing][balancer]") {
    const auto list = endpoints(3);
    const BalanceRequest request{Balance::round_robin, list};
    std::uint64_t cursor = 0;
    CHECK(select_endpoint(request, cursor) == 0u);
    CHECK(select_endpoint(request, cursor) == 1u);
    CHECK(select_endpoint(request, cursor) == 2u);
    CHECK(select_endpoint(request, cursor) == 0u);
    CHECK(counts(request, 300, cursor) == std::map<long, int>{{0, 100}, {1, 100}, {2, 100}});
}

TEST_CASE("round_robin skips unhealthy endpoints without doubling a neighbour's share",
          "[routing][balancer]") {
    auto list = endpoints(4);
    list[1].healthy = false;
    const BalanceRequest request{Balance::round_robin, list};
    std::uint64_t cursor = 0;
    CHECK(counts(request, 300, cursor) == std::map<long, int>{{0, 100}, {2, 100}, {3, 100}});
}

TEST_CASE("round_robin copes with a cursor from a bigger pool", "[routing][balancer]") {
    const auto list = endpoints(2);
    const BalanceRequest request{Balance::round_robin, list};
    std::uint64_t cursor = ~std::uint64_t{0};
    const auto chosen = select_endpoint(request, cursor);
    REQUIRE(chosen);
    CHECK(*chosen < 2u);
}

TEST_CASE("tried endpoints are excluded", "[routing][balancer]") {
    const auto list = endpoints(3);
    for (const Balance method : {Balance::round_robin, Balance::least_conn, Balance::cookie_hash}) {
        BalanceRequest request{method, list, 0b101};
        request.affinity_key = "abc";
        std::uint64_t cursor = 0;
        CHECK(counts(request, 50, cursor) == std::map<long, int>{{1, 50}});
        request.tried_mask = 0b111;
        CHECK_FALSE(select_endpoint(request, cursor));
    }
}

TEST_CASE("avoided endpoints are chosen only when no other healthy one is left",
          "[routing][balancer]") {
    const auto list = endpoints(3);
    for (const Balance method : {Balance::round_robin, Balance::least_conn, Balance::cookie_hash}) {
        BalanceRequest request{method, list};
        request.affinity_key = "abc";
        std::uint64_t cursor = 0;
        // The affinity's own endpoint failed: the retry goes elsewhere, even under cookie_hash.
        const auto first = select_endpoint(request, cursor);
        REQUIRE(first);
        request.avoid_mask = std::uint64_t{1} << *first;
        for (int i = 0; i < 20; ++i) {
            const auto chosen = select_endpoint(request, cursor);
            REQUIRE(chosen);
            CHECK(*chosen != *first);
        }
        // The others are down: the avoided one, healthy, is better than an unhealthy one.
        auto others_down = list;
        for (std::size_t i = 0; i < others_down.size(); ++i) others_down[i].healthy = i == *first;
        request.endpoints = others_down;
        CHECK(select_endpoint(request, cursor) == first);
        // Tried (connect failed) is stronger: never chosen again.
        request.tried_mask = request.avoid_mask;
        const auto chosen = select_endpoint(request, cursor);
        REQUIRE(chosen);
        CHECK(*chosen != *first);
    }
    // A single-endpoint pool: the avoided endpoint is still chosen (a new connection to it).
    const auto one = endpoints(1);
    std::uint64_t cursor = 0;
    CHECK(select_endpoint(BalanceRequest{Balance::round_robin, one, 0, {}, 0b1}, cursor) == 0u);
}

TEST_CASE("an empty pool selects nothing", "[routing][balancer]") {
    std::uint64_t cursor = 0;
    CHECK_FALSE(select_endpoint(BalanceRequest{Balance::round_robin, {}}, cursor));
    CHECK_FALSE(select_endpoint(BalanceRequest{Balance::least_conn, {}}, cursor));
    CHECK_FALSE(select_endpoint(BalanceRequest{Balance::cookie_hash, {}, 0, "key"}, cursor));
}

TEST_CASE("endpoints beyond the 64th are never excluded", "[routing][balancer]") {
    const auto list = endpoints(70);
    const BalanceRequest request{Balance::round_robin, list, ~std::uint64_t{0}};
    std::uint64_t cursor = 0;
    CHECK(counts(request, 60, cursor) ==
          std::map<long, int>{{64, 10}, {65, 10}, {66, 10}, {67, 10}, {68, 10}, {69, 10}});
}

TEST_CASE("when no endpoint is healthy, all untried ones are used", "[routing][balancer]") {
    auto list = endpoints(3);
    for (auto& endpoint : list) endpoint.healthy = false;
    std::uint64_t cursor = 0;
    CHECK(counts(BalanceRequest{Balance::round_robin, list}, 300, cursor) ==
          std::map<long, int>{{0, 100}, {1, 100}, {2, 100}});
    CHECK(counts(BalanceRequest{Balance::least_conn, list, 0b010}, 100, cursor) ==
          std::map<long, int>{{0, 50}, {2, 50}});

    // Healthy ones already tried: an unhealthy untried one is better than a 502.
    list[0].healthy = true;
    CHECK(counts(BalanceRequest{Balance::round_robin, list, 0b001}, 100, cursor) ==
          std::map<long, int>{{1, 50}, {2, 50}});
    CHECK(counts(BalanceRequest{Balance::round_robin, list, 0b000}, 100, cursor) ==
          std::map<long, int>{{0, 100}});
}

TEST_CASE("least_conn picks the fewest active and rotates among ties", "[routing][balancer]") {
    auto list = endpoints(4);
    list[0].active = 5;
    list[1].active = 1;
    list[2].active = 1;
    list[3].active = 3;
    const BalanceRequest request{Balance::least_conn, list};
    std::uint64_t cursor = 0;
    CHECK(counts(request, 100, cursor) == std::map<long, int>{{1, 50}, {2, 50}});

    list[2].active = 0;
    CHECK(counts(request, 10, cursor) == std::map<long, int>{{2, 10}});

    // A healthy busy endpoint beats an idle unhealthy one.
    list[2].healthy = false;
    CHECK(counts(request, 10, cursor) == std::map<long, int>{{1, 10}});
}

TEST_CASE("least_conn spreads load as requests accumulate", "[routing][balancer]") {
    auto list = endpoints(3);
    const BalanceRequest request{Balance::least_conn, list};
    std::uint64_t cursor = 0;
    for (int i = 0; i < 300; ++i) {
        const auto chosen = select_endpoint(request, cursor);
        REQUIRE(chosen);
        ++list[*chosen].active;
    }
    CHECK(list[0].active == 100);
    CHECK(list[1].active == 100);
    CHECK(list[2].active == 100);
}

TEST_CASE("cookie_hash keeps a session on one endpoint", "[routing][balancer]") {
    auto list = endpoints(5);
    std::uint64_t cursor = 7;
    BalanceRequest request{Balance::cookie_hash, list, 0, "0123456789abcdef0123456789abcdef"};
    const auto first = select_endpoint(request, cursor);
    REQUIRE(first);
    for (int i = 0; i < 20; ++i) {
        list[i % 5].active += 3;  // load does not move a session
        CHECK(select_endpoint(request, cursor) == first);
    }
    CHECK(cursor == 7u);  // rendezvous does not rotate
}

TEST_CASE("cookie_hash spreads sessions evenly", "[routing][balancer]") {
    const auto list = endpoints(5);
    std::map<std::size_t, int> per_endpoint;
    std::uint64_t cursor = 0;
    for (int key = 0; key < 10000; ++key) {
        const std::string session = "session-" + std::to_string(key);
        const auto chosen =
            select_endpoint(BalanceRequest{Balance::cookie_hash, list, 0, session}, cursor);
        REQUIRE(chosen);
        ++per_endpoint[*chosen];
    }
    REQUIRE(per_endpoint.size() == 5);
    for (const auto& [index, count] : per_endpoint) {
        INFO("endpoint " << index);
        CHECK(count > 1700);
        CHECK(count < 2300);
    }
}

TEST_CASE("cookie_hash moves only the removed endpoint's sessions", "[routing][balancer]") {
    const auto full = endpoints(5);
    auto reduced = full;
    reduced.erase(reduced.begin() + 2);
    const std::uint64_t removed_id = full[2].id;
    std::uint64_t cursor = 0;
    int moved = 0;
    std::map<std::uint64_t, int> moved_to;
    for (int key = 0; key < 10000; ++key) {
        const std::string session = std::to_string(key * 7919) + "s";
        const auto before =
            select_endpoint(BalanceRequest{Balance::cookie_hash, full, 0, session}, cursor);
        const auto after =
            select_endpoint(BalanceRequest{Balance::cookie_hash, reduced, 0, session}, cursor);
        REQUIRE(before);
        REQUIRE(after);
        const std::uint64_t id_before = full[*before].id;
        const std::uint64_t id_after = reduced[*after].id;
        if (id_before == removed_id) {
            ++moved;
            ++moved_to[id_after];
        } else {
            CHECK(id_after == id_before);
        }
        // Marking it down or already tried gives the same fallback as removing it.
        auto down = full;
        down[2].healthy = false;
        CHECK(full[*select_endpoint(BalanceRequest{Balance::cookie_hash, down, 0, session}, cursor)]
                  .id == id_after);
        CHECK(full[*select_endpoint(BalanceRequest{Balance::cookie_hash, full, 0b100, session},
                                    cursor)]
                  .id == id_after);
    }
    CHECK(moved > 1700);  // about 1/5 of the keys
    CHECK(moved < 2300);
    CHECK(moved_to.size() == 4);  // and they spread over the others
    for (const auto& [id, count] : moved_to) CHECK(count > moved / 8);
}

TEST_CASE("cookie_hash without a session behaves like least_conn", "[routing][balancer]") {
    auto list = endpoints(3);
    list[0].active = 4;
    list[1].active = 2;
    list[2].active = 2;
    std::uint64_t cursor = 0;
    CHECK(counts(BalanceRequest{Balance::cookie_hash, list}, 10, cursor) ==
          std::map<long, int>{{1, 5}, {2, 5}});
}

TEST_CASE("odoo_session_id reads the session_id cookie", "[routing][balancer]") {
    CHECK(odoo_session_id("session_id=abc123") == std::string_view("abc123"));
    CHECK(odoo_session_id("a=b; session_id=XYZ") == std::string_view("XYZ"));
    CHECK(odoo_session_id("session_id=XYZ; frontend_lang=en_US") == std::string_view("XYZ"));
    CHECK(odoo_session_id("a=b;session_id=XYZ;c=d") == std::string_view("XYZ"));
    CHECK(odoo_session_id("  session_id = XYZ  ;") == std::string_view("XYZ"));
    CHECK(odoo_session_id("session_id=\"quoted\"") == std::string_view("quoted"));
    CHECK(odoo_session_id("session_id=first; session_id=second") == std::string_view("first"));
    CHECK(odoo_session_id("x_session_id=1; session_id=2") == std::string_view("2"));
    CHECK(odoo_session_id("session_id=a=b") == std::string_view("a=b"));

    CHECK_FALSE(odoo_session_id(""));
    CHECK_FALSE(odoo_session_id("a=b; c=d"));
    CHECK_FALSE(odoo_session_id("session_id"));
    CHECK_FALSE(odoo_session_id("session_id="));
    CHECK_FALSE(odoo_session_id("session_id=\"\""));
    CHECK_FALSE(odoo_session_id("Session_Id=abc"));  // cookie names are case-sensitive
    CHECK_FALSE(odoo_session_id("x_session_id=1"));
    CHECK_FALSE(odoo_session_id(";;;"));
}

TEST_CASE("stable_hash is 64-bit FNV-1a", "[routing][balancer]") {
    CHECK(stable_hash("") == 0xcbf29ce484222325ull);
    CHECK(stable_hash("a") == 0xaf63dc4c8601ec8cull);
    CHECK(stable_hash("foobar") == 0x85944171f73967e8ull);
    CHECK(stable_hash("10.1.0.11:8069") != stable_hash("10.1.0.12:8069"));
}

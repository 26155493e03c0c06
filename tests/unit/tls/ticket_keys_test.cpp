#include "tls/ticket_keys.hpp"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

using std::chrono::hours;
using std::chrono::system_clock;
using tg::tls::TicketKeys;

TEST_CASE("ticket keys rotate when due and keep the previous one", "[tls][tickets]") {
    const auto start = system_clock::now();
    TicketKeys keys(start, hours(12));
    const auto first = keys.keys();
    CHECK_FALSE(first->previous);
    CHECK(keys.next_rotation() == start + hours(12));

    CHECK_FALSE(keys.rotate_if_due(start + hours(11)));
    CHECK(keys.keys() == first);

    CHECK(keys.rotate_if_due(start + hours(12)));
    const auto second = keys.keys();
    REQUIRE(second->previous);
    CHECK(second->previous->name == first->current.name);
    CHECK(second->previous->aes_key == first->current.aes_key);
    CHECK(second->current.name != first->current.name);
    CHECK(second->current.hmac_key != first->current.hmac_key);
    CHECK(keys.next_rotation() == start + hours(24));

    // The old key was the previous one; after the next rotation it is gone.
    CHECK_FALSE(keys.rotate_if_due(start + hours(23)));
    CHECK(keys.rotate_if_due(start + hours(24)));
    CHECK(keys.keys()->previous->name == second->current.name);
}

TEST_CASE("a clock that steps back does not rotate", "[tls][tickets]") {
    const auto start = system_clock::now();
    TicketKeys keys(start, hours(12));
    CHECK_FALSE(keys.rotate_if_due(start - hours(48)));
    CHECK_FALSE(keys.keys()->previous);
}

TEST_CASE("readers see whole key sets while another thread rotates", "[tls][tickets]") {
    const auto start = system_clock::now();
    TicketKeys keys(start, std::chrono::seconds(1));
    std::atomic<bool> torn{false};
    std::vector<std::thread> readers;
    for (int r = 0; r < 4; ++r)
        readers.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                const auto set = keys.keys();
                if (set->previous && set->previous->name == set->current.name) torn = true;
            }
        });
    for (int i = 1; i <= 2000; ++i) keys.rotate_if_due(start + std::chrono::seconds(i));
    for (auto& reader : readers) reader.join();
    CHECK_FALSE(torn);
    CHECK(keys.next_rotation() == start + std::chrono::seconds(2001));
}

#include "proxy/observe/log_throttle.hpp"

#include <catch2/catch.hpp>

using tg::proxy::LogThrottle;
using namespace std::chrono_literals;

TEST_CASE("one line a second, and the next one counts those held back", "[proxy][log_throttle]") {
    LogThrottle throttle;
    const LogThrottle::Clock::time_point start{100s};
    std::uint64_t held_back = 99;
    REQUIRE(throttle.admit(start, held_back));
    CHECK(held_back == 0);
    CHECK_FALSE(throttle.admit(start, held_back));
    CHECK_FALSE(throttle.admit(start + 999ms, held_back));
    CHECK_FALSE(throttle.admit(start + 999ms, held_back));
    REQUIRE(throttle.admit(start + 1s, held_back));
    CHECK(held_back == 3);
    // A quiet spell: the next line passes at once and owes nothing.
    REQUIRE(throttle.admit(start + 10s, held_back));
    CHECK(held_back == 0);
}

TEST_CASE("the interval is a parameter", "[proxy][log_throttle]") {
    LogThrottle throttle(50ms);
    const LogThrottle::Clock::time_point start{1s};
    std::uint64_t held_back = 0;
    REQUIRE(throttle.admit(start, held_back));
    CHECK_FALSE(throttle.admit(start + 49ms, held_back));
    REQUIRE(throttle.admit(start + 50ms, held_back));
    CHECK(held_back == 1);
}

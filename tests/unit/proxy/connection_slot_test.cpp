#include "proxy/connection_slot.hpp"

#include <catch2/catch.hpp>
#include <chrono>

using namespace tg::proxy;
using namespace std::chrono_literals;

namespace {
const Clock::time_point t0 = Clock::time_point{} + 1000s;
}

TEST_CASE("a wait for the next request is marked for parking only once its time has come",
          "[connection_slot]") {
    ConnectionSlot slot;
    slot.park_at(t0 + 1s);
    slot.park_if_due(t0 + 999ms);
    CHECK_FALSE(slot.end_park_wait());

    slot.park_at(t0 + 1s);
    slot.park_if_due(t0 + 1s);
    CHECK(slot.end_park_wait());
    CHECK_FALSE(slot.end_park_wait());  // reported once
    CHECK_FALSE(slot.timed_out());      // parking is not a timeout
}

TEST_CASE("a wait that ended is not parked by a later sweep", "[connection_slot]") {
    ConnectionSlot slot;
    slot.park_at(t0 + 1s);
    CHECK_FALSE(slot.end_park_wait());
    slot.park_if_due(t0 + 5s);
    CHECK_FALSE(slot.end_park_wait());
}

TEST_CASE("a slot never set to park is never parked", "[connection_slot]") {
    ConnectionSlot slot;
    slot.park_if_due(Clock::time_point::max() - 1s);
    CHECK_FALSE(slot.end_park_wait());
}

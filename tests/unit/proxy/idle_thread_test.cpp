#include "proxy/idle_thread.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace tg::proxy;

TEST_CASE("IdleThread: work runs there, in order, and the caller resumes on its own thread",
          "[proxy][idle_thread]") {
    asio::io_context control;
    IdleThread idle;
    std::vector<int> order;
    std::vector<std::thread::id> ran_on;
    bool resumed_on_control = true;
    const auto caller = [&](int n) -> asio::awaitable<void> {
        auto work = [&, n] {
            ran_on.push_back(std::this_thread::get_id());
            order.push_back(n);
            return n * 10;
        };
        const int result = co_await idle.run(std::move(work));
        CHECK(result == n * 10);
        resumed_on_control = resumed_on_control && control.get_executor().running_in_this_thread();
    };
    for (int n = 0; n < 5; ++n) asio::co_spawn(control, caller(n), asio::detached);
    control.run();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
    REQUIRE(ran_on.size() == 5);
    CHECK(ran_on[0] != std::this_thread::get_id());
    CHECK(resumed_on_control);
}

TEST_CASE("IdleThread: an exception reaches the caller", "[proxy][idle_thread]") {
    asio::io_context control;
    IdleThread idle;
    std::string caught;
    const auto caller = [&]() -> asio::awaitable<void> {
        auto work = []() -> int { throw std::runtime_error("no"); };
        try {
            co_await idle.run(std::move(work));
        } catch (const std::runtime_error& e) {
            caught = e.what();
        }
    };
    asio::co_spawn(control, caller(), asio::detached);
    control.run();
    CHECK(caught == "no");
}

TEST_CASE("IdleThread: posted work runs before the thread ends", "[proxy][idle_thread]") {
    int ran = 0;
    {
        IdleThread idle;
        for (int i = 0; i < 100; ++i) idle.post([&ran] { ++ran; });
    }
    CHECK(ran == 100);
}

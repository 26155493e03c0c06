#include "proxy/upstream/health_board.hpp"

#include <prometheus/metric_family.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "config/load.hpp"
#include "proxy/upstream/health_checker.hpp"
#include "proxy/upstream/passive_health.hpp"

namespace asio = tg::proxy::asio;
using tg::proxy::append_endpoint_up;
using tg::proxy::Clock;
using tg::proxy::error_code;
using tg::proxy::Generation;
using tg::proxy::HealthBoard;
using tg::proxy::HealthChecker;
using tg::proxy::parse_status_line;
using tg::proxy::PassiveHealth;
using tg::proxy::ProbeState;
using tg::proxy::ResolvedEndpoint;
using tg::proxy::ResolvedPool;
using tg::proxy::tcp;
using tg::proxy::use_nothrow;
using namespace std::chrono_literals;

namespace {

tcp::endpoint local(unsigned short port) {
    return {asio::ip::make_address("127.0.0.1"), port};
}

ResolvedEndpoint resolved(unsigned short port) {
    ResolvedEndpoint endpoint;
    endpoint.address = local(port);
    endpoint.label = "127.0.0.1:" + std::to_string(port);
    return endpoint;
}

/// A resolved pool over 127.0.0.1 ports; `config` decides whether it is actively checked.
ResolvedPool pool_of(const tg::config::Pool& config, std::vector<unsigned short> web,
                     std::vector<unsigned short> longpolling = {}) {
    ResolvedPool pool;
    pool.config = &config;
    for (const auto port : web) pool.web.push_back(resolved(port));
    for (const auto port : longpolling) pool.longpolling.push_back(resolved(port));
    return pool;
}

tg::config::Pool checked_pool() {
    tg::config::Pool pool;
    pool.health_check = tg::config::HealthCheck{};
    return pool;
}

std::map<std::string, bool> states(const HealthBoard& board) {
    std::map<std::string, bool> seen;
    board.for_each([&](std::string_view pool, std::string_view endpoint, bool up) {
        seen[std::string(pool) + "/" + std::string(endpoint)] = up;
    });
    return seen;
}

void set(HealthBoard& board, std::string_view pool, unsigned short port, bool up) {
    auto* flag = board.flag(pool, local(port));
    REQUIRE(flag != nullptr);
    flag->store(up);
}

}  // namespace

TEST_CASE("the board holds one flag per distinct endpoint, in list order", "[health][board]") {
    const auto config = checked_pool();
    HealthBoard board;
    const auto other = board.add_pool("other", pool_of(config, {9000}));
    const auto index = board.add_pool("p", pool_of(config, {8001, 8002}, {8003, 8001}));
    CHECK(other == 0);
    CHECK(index == 1);
    CHECK(board.web_up(index, 0));
    CHECK(board.web_up(index, 1));
    CHECK(board.longpolling_up(index, 0));
    CHECK(board.longpolling_up(index, 1));

    // 8001 is in both lists of "p": one endpoint, one flag.
    set(board, "p", 8001, false);
    CHECK_FALSE(board.web_up(index, 0));
    CHECK_FALSE(board.longpolling_up(index, 1));
    CHECK(board.web_up(index, 1));
    CHECK(board.web_up(other, 0));
    CHECK(states(board) == std::map<std::string, bool>{{"other/127.0.0.1:9000", true},
                                                       {"p/127.0.0.1:8001", false},
                                                       {"p/127.0.0.1:8002", true},
                                                       {"p/127.0.0.1:8003", true}});
    CHECK(board.flag("p", local(9000)) == nullptr);
    CHECK(board.flag("nope", local(8001)) == nullptr);
}

TEST_CASE("a new board carries over the state of endpoints that remain", "[health][board]") {
    const auto checked = checked_pool();
    const tg::config::Pool unchecked;
    HealthBoard before;
    before.add_pool("p", pool_of(checked, {8001, 8002}));
    before.add_pool("dropped_check", pool_of(checked, {8101}));
    before.add_pool("new_check", pool_of(unchecked, {8201}));
    set(before, "p", 8001, false);
    set(before, "dropped_check", 8101, false);
    // An unchecked pool's flag is never written in practice; written here, it must not leak
    // into a board where the pool is checked.
    set(before, "new_check", 8201, false);

    HealthBoard after;
    const auto p = after.add_pool("p", pool_of(checked, {8002, 8003, 8001}));
    after.add_pool("dropped_check", pool_of(unchecked, {8101}));
    after.add_pool("new_check", pool_of(checked, {8201}));
    after.add_pool("new_pool", pool_of(checked, {8301}));
    after.carry_over(before);

    CHECK(after.web_up(p, 0));        // 8002: was up
    CHECK(after.web_up(p, 1));        // 8003: new, optimistic
    CHECK_FALSE(after.web_up(p, 2));  // 8001: still down, at its new index
    CHECK(states(after) == std::map<std::string, bool>{{"dropped_check/127.0.0.1:8101", true},
                                                       {"new_check/127.0.0.1:8201", true},
                                                       {"new_pool/127.0.0.1:8301", true},
                                                       {"p/127.0.0.1:8001", false},
                                                       {"p/127.0.0.1:8002", true},
                                                       {"p/127.0.0.1:8003", true}});
}

TEST_CASE("upstream_endpoint_up is one gauge per pool and endpoint", "[health][board]") {
    const auto config = checked_pool();
    HealthBoard board;
    std::vector<prometheus::MetricFamily> families;
    append_endpoint_up(board, families);
    CHECK(families.empty());  // nothing to report: no family at all

    board.add_pool("p", pool_of(config, {8001, 8002}));
    set(board, "p", 8002, false);
    append_endpoint_up(board, families);
    REQUIRE(families.size() == 1);
    const auto& family = families[0];
    CHECK(family.name == "tenantgate_upstream_endpoint_up");
    CHECK(family.type == prometheus::MetricType::Gauge);
    REQUIRE(family.metric.size() == 2);
    std::map<std::string, double> values;
    for (const auto& metric : family.metric) {
        REQUIRE(metric.label.size() == 2);
        CHECK(metric.label[0].name == "endpoint");
        CHECK(metric.label[1].name == "pool");
        CHECK(metric.label[1].value == "p");
        values[metric.label[0].value] = metric.gauge.value;
    }
    CHECK(values == std::map<std::string, double>{{"127.0.0.1:8001", 1}, {"127.0.0.1:8002", 0}});
}

TEST_CASE("passive health ejects after fall failures in a row, with doubling backoff",
          "[health][passive]") {
    const auto t0 = Clock::time_point{} + 1000s;
    PassiveHealth health;
    CHECK(health.available(t0));
    CHECK(health.at_rest());

    health.record(false, t0, 3);
    health.record(false, t0 + 1s, 3);
    CHECK(health.available(t0 + 1s));
    CHECK_FALSE(health.at_rest());
    health.record(false, t0 + 2s, 3);
    CHECK_FALSE(health.available(t0 + 2s));
    CHECK_FALSE(health.available(t0 + 7s - 1ms));
    CHECK(health.available(t0 + 7s));

    // The backoff has passed: the next exchange is the probe, and one failure ejects again,
    // for twice as long.
    health.record(false, t0 + 8s, 3);
    CHECK_FALSE(health.available(t0 + 18s - 1ms));
    CHECK(health.available(t0 + 18s));

    auto now = t0 + 18s;
    for (const auto backoff : {20s, 40s, 60s, 60s}) {
        health.record(false, now, 3);
        CHECK_FALSE(health.available(now + backoff - 1ms));
        CHECK(health.available(now + backoff));
        now += backoff;
    }

    // A success forgets everything: three failures again, and the first backoff.
    health.record(true, now, 3);
    CHECK(health.at_rest());
    health.record(false, now, 3);
    health.record(false, now, 3);
    CHECK(health.available(now));
    health.record(false, now, 3);
    CHECK_FALSE(health.available(now + 5s - 1ms));
    CHECK(health.available(now + 5s));
}

TEST_CASE("passive health: a success between failures restarts the count", "[health][passive]") {
    const auto t0 = Clock::time_point{} + 1000s;
    PassiveHealth health;
    for (int round = 0; round < 5; ++round) {
        health.record(false, t0, 3);
        health.record(false, t0, 3);
        health.record(true, t0, 3);
    }
    CHECK(health.available(t0));
    CHECK(health.at_rest());
}

TEST_CASE("passive health: failures of exchanges begun before an ejection do not extend it",
          "[health][passive]") {
    const auto t0 = Clock::time_point{} + 1000s;
    PassiveHealth health;
    health.record(false, t0, 1);
    CHECK_FALSE(health.available(t0));
    for (int late = 0; late < 10; ++late) health.record(false, t0 + 1s, 1);
    CHECK(health.available(t0 + 5s));  // still the first backoff, not doubled ten times
    health.record(false, t0 + 5s, 1);
    CHECK(health.available(t0 + 15s));
}

TEST_CASE("passive health counts only gateway failures as failed statuses", "[health][passive]") {
    for (const unsigned status : {502u, 503u, 504u}) CHECK(PassiveHealth::failed_status(status));
    for (const unsigned status : {200u, 301u, 404u, 429u, 500u, 501u, 505u})
        CHECK_FALSE(PassiveHealth::failed_status(status));
    tg::config::Pool pool;
    CHECK(tg::proxy::passive_fall(pool) == PassiveHealth::default_fall);
    pool.health_check = tg::config::HealthCheck{};
    pool.health_check->fall = 7;
    CHECK(tg::proxy::passive_fall(pool) == 7);
}

TEST_CASE("an active probe goes down after fall failures and up after rise passes",
          "[health][checker]") {
    ProbeState state;
    CHECK(state.up());
    CHECK(state.record(false, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(true, 2, 3) == ProbeState::Change::none);  // the streak is broken
    CHECK(state.record(false, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(false, 2, 3) == ProbeState::Change::went_down);
    CHECK_FALSE(state.up());
    CHECK(state.record(false, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(true, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(true, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(false, 2, 3) == ProbeState::Change::none);  // the streak is broken
    CHECK(state.record(true, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(true, 2, 3) == ProbeState::Change::none);
    CHECK(state.record(true, 2, 3) == ProbeState::Change::went_up);
    CHECK(state.up());
    CHECK_FALSE(ProbeState(false).up());
}

TEST_CASE("status lines of health check answers", "[health][checker]") {
    CHECK(parse_status_line("HTTP/1.1 200 OK") == 200u);
    CHECK(parse_status_line("HTTP/1.0 503 Service Unavailable") == 503u);
    CHECK(parse_status_line("HTTP/1.1 302 ") == 302u);
    CHECK(parse_status_line("HTTP/1.1 204") == 204u);
    CHECK_FALSE(parse_status_line(""));
    CHECK_FALSE(parse_status_line("HTTP/1.1 20 OK"));
    CHECK_FALSE(parse_status_line("HTTP/1.1 2000 OK"));
    CHECK_FALSE(parse_status_line("HTTP/2 200 OK"));
    CHECK_FALSE(parse_status_line("http/1.1 200 OK"));
    CHECK_FALSE(parse_status_line("HTTP/1.1 099 OK"));
    CHECK_FALSE(parse_status_line("SSH-2.0-OpenSSH_9.2"));
}

namespace {

/// A loopback upstream that answers every connection with `status` and closes it, counting the
/// requests; `close()` stops it.
struct FakeUpstream {
    FakeUpstream(asio::io_context& io, tcp::endpoint at, unsigned status)
        : acceptor(io, at), status(status) {
        asio::co_spawn(io, serve(), asio::detached);
    }
    asio::awaitable<void> serve() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
            if (ec) co_return;
            std::string request;
            auto [read_error, n] = co_await asio::async_read_until(
                socket, asio::dynamic_buffer(request, 4096), "\r\n\r\n", use_nothrow);
            if (read_error) continue;
            requests.push_back(request.substr(0, n));
            const std::string response = "HTTP/1.1 " + std::to_string(status) +
                                         " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            std::ignore = co_await asio::async_write(socket, asio::buffer(response), use_nothrow);
        }
    }
    void close() {
        error_code ignored;
        acceptor.close(ignored);
    }
    tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

    tcp::acceptor acceptor;
    unsigned status;
    std::vector<std::string> requests;
};

unsigned short free_port(asio::io_context& io) {
    tcp::acceptor probe(io, local(0));
    return probe.local_endpoint().port();
}

std::shared_ptr<const Generation> generation_with(const std::string& pool_yaml) {
    const auto loaded = tg::config::load_text(R"(
listeners:
  - { name: http, address: "127.0.0.1:0" }
pools:
)" + pool_yaml + R"(
tenants:
  t: { hosts: [erp.example.com], pool: p }
)",
                                              "t.yaml", "");
    REQUIRE(loaded.errors.empty());
    static tg::proxy::Limiter limiter(1);
    return std::make_shared<const Generation>(
        loaded.snapshot, tg::routing::HostTable(*loaded.snapshot), 1, tg::proxy::DnsAnswers{},
        tg::proxy::TlsStores{}, nullptr, limiter, std::make_shared<const tg::proxy::Runtime>());
}

/// Runs `io` until `condition` holds, at most `limit`.
template <class Condition>
bool run_until(asio::io_context& io, Condition condition, Clock::duration limit = 5s) {
    const auto deadline = Clock::now() + limit;
    while (!condition() && Clock::now() < deadline) io.run_for(10ms);
    return condition();
}

}  // namespace

TEST_CASE("the checker marks a dead endpoint down, a live one up, and follows generations",
          "[health][checker]") {
    asio::io_context io;
    FakeUpstream live(io, local(0), 200);
    const auto dead_port = free_port(io);
    const auto live_port = live.endpoint().port();
    const std::string check =
        "{ path: /web/health, interval: 50ms, timeout: 40ms, fall: 2, "
        "rise: 2 }";
    const auto first = generation_with("  p: { web: [\"127.0.0.1:" + std::to_string(dead_port) +
                                       "\", \"127.0.0.1:" + std::to_string(live_port) +
                                       "\"], health_check: " + check + " }");
    HealthBoard board;
    const auto index = board.add_pool("p", *first->pool("p"));
    HealthChecker checker(io);
    checker.track(first, board);

    REQUIRE(run_until(io, [&] { return !board.web_up(index, 0); }));
    CHECK(board.web_up(index, 1));
    REQUIRE(!live.requests.empty());
    CHECK(live.requests.front() ==
          "GET /web/health HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(live_port) +
              "\r\nUser-Agent: tenantgate-health\r\nConnection: close\r\n\r\n");

    // The dead endpoint starts answering: up again after `rise` passed checks.
    FakeUpstream revived(io, local(dead_port), 200);
    REQUIRE(run_until(io, [&] { return board.web_up(index, 0); }));
    CHECK(revived.requests.size() >= 2);

    // A 5xx answer is a failed check.
    revived.status = 503;
    REQUIRE(run_until(io, [&] { return !board.web_up(index, 0); }));

    // A reload drops the endpoint: it is checked no more, and the state of the other one moves
    // to the new generation's board.
    const auto second = generation_with("  p: { web: [\"127.0.0.1:" + std::to_string(live_port) +
                                        "\"], health_check: " + check + " }");
    HealthBoard next;
    const auto next_index = next.add_pool("p", *second->pool("p"));
    next.carry_over(board);
    checker.track(second, next);
    io.run_for(20ms);  // a check under way at the switch completes or is cancelled
    const auto checks_of_dropped = revived.requests.size();
    const auto checks_of_kept = live.requests.size();
    REQUIRE(run_until(io, [&] { return live.requests.size() >= checks_of_kept + 3; }));
    CHECK(revived.requests.size() == checks_of_dropped);
    CHECK(next.web_up(next_index, 0));

    // Stopped, the checker leaves no work behind: with the fakes closed the loop runs dry.
    checker.stop();
    live.close();
    revived.close();
    io.run_for(1s);
    CHECK(io.stopped());
}

TEST_CASE("a check that outlives its timeout fails", "[health][checker]") {
    asio::io_context io;
    // Accepts (the kernel completes the handshake) but never answers.
    tcp::acceptor silent(io, local(0));
    const auto port = silent.local_endpoint().port();
    const auto generation =
        generation_with("  p: { web: [\"127.0.0.1:" + std::to_string(port) +
                        "\"], health_check: { interval: 60ms, timeout: 30ms, fall: 1, rise: 1 } }");
    HealthBoard board;
    const auto index = board.add_pool("p", *generation->pool("p"));
    HealthChecker checker(io);
    checker.track(generation, board);
    REQUIRE(run_until(io, [&] { return !board.web_up(index, 0); }));
    checker.stop();
    error_code ignored;
    silent.close(ignored);
    io.run_for(1s);
    CHECK(io.stopped());
}

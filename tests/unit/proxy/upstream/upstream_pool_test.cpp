#include "proxy/upstream/upstream_pool.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace asio = tg::proxy::asio;
using tg::proxy::Clock;
using tg::proxy::error_code;
using tg::proxy::tcp;
using tg::proxy::UpstreamConnection;
using tg::proxy::UpstreamPool;
using namespace std::chrono_literals;

namespace {

/// A worker's event loop: like the real one it always has work, so run_for() keeps polling the
/// reactor instead of stopping with readiness events still queued.
struct Loop {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> busy{io.get_executor()};
};

/// A listening "upstream" on 127.0.0.1:0 and the connections made to it.
struct Loopback {
    explicit Loopback(asio::io_context& io)
        : io(io), acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

    tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }

    /// A connected proxy-side connection; its upstream-side socket is kept in `peers`.
    std::shared_ptr<UpstreamConnection> connect() {
        auto connection = std::make_shared<UpstreamConnection>(io.get_executor(), endpoint());
        connection->socket.connect(endpoint());
        peers.push_back(acceptor.accept());
        return connection;
    }

    asio::io_context& io;
    tcp::acceptor acceptor;
    std::vector<tcp::socket> peers;
};

/// Runs `io` until `done()` or 2 s pass (a bound, not a wait: it returns as soon as done).
template <class Done>
bool run_until(asio::io_context& io, Done done) {
    const auto deadline = Clock::now() + 2s;
    while (!done()) {
        if (Clock::now() >= deadline) return false;
        io.run_one_for(10ms);
    }
    return true;
}

/// Runs `io` for a short bounded time: cancellations and whatever the reactor reports.
void run_pending(asio::io_context& io) {
    io.run_for(50ms);
}

/// What the worker's sweep does to the idle connections: starts watching them.
void sweep(UpstreamPool& pool) {
    pool.prune(Clock::now(), 1min, [](const tcp::endpoint&) { return true; });
}

/// True when the proxy side can still send to the peer and the peer receives it.
bool still_connected(UpstreamConnection& connection, tcp::socket& peer) {
    error_code ec;
    asio::write(connection.socket, asio::buffer(std::string_view("ping")), ec);
    if (ec) return false;
    char received[4];
    asio::read(peer, asio::buffer(received), ec);
    return !ec && std::string_view(received, 4) == "ping";
}

}  // namespace

TEST_CASE("a kept connection is leased back", "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto connection = upstream.connect();

    pool.keep(connection, Clock::now());
    auto leased = pool.lease(upstream.endpoint());
    REQUIRE(leased);
    CHECK(leased == connection);
    CHECK(pool.lease(upstream.endpoint()) == nullptr);

    // The cancelled idle watch must not touch the connection once it is leased.
    run_pending(io);
    REQUIRE(leased->socket.is_open());
    CHECK(still_connected(*leased, upstream.peers[0]));
}

TEST_CASE("lease on an endpoint with no idle connection is null", "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback a(io);
    Loopback b(io);
    CHECK(pool.lease(a.endpoint()) == nullptr);

    pool.keep(a.connect(), Clock::now());
    // Connections are per endpoint: b's lease does not get a's connection.
    CHECK(pool.lease(b.endpoint()) == nullptr);
    CHECK(pool.lease(a.endpoint()) != nullptr);
    CHECK(pool.lease(a.endpoint()) == nullptr);
}

TEST_CASE("several idle connections to one endpoint are each leased once",
          "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto first = upstream.connect();
    auto second = upstream.connect();
    pool.keep(first, Clock::now());
    pool.keep(second, Clock::now());
    std::set<std::shared_ptr<UpstreamConnection>> leased;
    leased.insert(pool.lease(upstream.endpoint()));
    leased.insert(pool.lease(upstream.endpoint()));
    CHECK(leased == std::set<std::shared_ptr<UpstreamConnection>>{first, second});
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("an idle connection the upstream closes is retired", "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto connection = upstream.connect();
    pool.keep(connection, Clock::now());
    sweep(pool);

    // A silent upstream leaves it alone.
    run_pending(io);
    CHECK(connection->socket.is_open());

    upstream.peers[0].close();
    CHECK(run_until(io, [&] { return !connection->socket.is_open(); }));
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("an idle connection that receives stray bytes is retired", "[proxy][upstream_pool]") {
    // Bytes with no request outstanding cannot be a response to the next request.
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto connection = upstream.connect();
    pool.keep(connection, Clock::now());
    sweep(pool);
    asio::write(upstream.peers[0], asio::buffer(std::string_view("HTTP/1.1 408 Timeout\r\n")));
    CHECK(run_until(io, [&] { return !connection->socket.is_open(); }));
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("a leased connection is no longer watched, a kept-again one is",
          "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto connection = upstream.connect();
    auto& peer = upstream.peers[0];

    pool.keep(connection, Clock::now());
    sweep(pool);
    auto leased = pool.lease(upstream.endpoint());
    REQUIRE(leased == connection);
    // The response arriving on a leased connection is the session's to read, not a stray byte.
    asio::write(peer, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\n")));
    run_pending(io);
    CHECK(connection->socket.is_open());
    CHECK(connection->socket.available() == 17);

    // The session reads the response and returns the connection: watched again.
    std::string response(17, '\0');
    bool read_done = false;
    asio::async_read(connection->socket, asio::buffer(response),
                     [&](const error_code& ec, std::size_t) { read_done = !ec; });
    REQUIRE(run_until(io, [&] { return read_done; }));
    CHECK(response == "HTTP/1.1 200 OK\r\n");
    pool.keep(std::move(leased), Clock::now());
    sweep(pool);
    run_pending(io);
    CHECK(connection->socket.is_open());
    peer.close();
    CHECK(run_until(io, [&] { return !connection->socket.is_open(); }));
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("a connection with unread bytes is not kept", "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto connection = upstream.connect();
    const std::string_view extra = "HTTP/1.1 200 OK\r\n";
    connection->buffer.commit(
        asio::buffer_copy(connection->buffer.prepare(extra.size()), asio::buffer(extra)));
    REQUIRE(connection->buffer.size() == extra.size());

    pool.keep(connection, Clock::now());
    CHECK_FALSE(connection->socket.is_open());
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("prune closes idle connections of endpoints that left the config",
          "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback kept_upstream(io);
    Loopback removed_upstream(io);
    auto kept = kept_upstream.connect();
    auto removed = removed_upstream.connect();
    const auto now = Clock::now();
    pool.keep(kept, now);
    pool.keep(removed, now);

    std::set<unsigned short> asked;
    pool.prune(now, 1min, [&](const tcp::endpoint& endpoint) {
        asked.insert(endpoint.port());
        return endpoint != removed_upstream.endpoint();
    });
    CHECK(asked == std::set<unsigned short>{kept_upstream.endpoint().port(),
                                            removed_upstream.endpoint().port()});
    CHECK_FALSE(removed->socket.is_open());
    CHECK(kept->socket.is_open());
    run_pending(io);  // the closed connection's cancelled watch completes harmlessly
    CHECK(pool.lease(removed_upstream.endpoint()) == nullptr);
    CHECK(pool.lease(kept_upstream.endpoint()) == kept);
}

TEST_CASE("prune closes connections idle longer than max_idle", "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto old_connection = upstream.connect();
    auto recent = upstream.connect();
    const auto now = Clock::now();
    pool.keep(old_connection, now - 90s);
    pool.keep(recent, now - 30s);

    pool.prune(now, 60s, [](const tcp::endpoint&) { return true; });
    CHECK_FALSE(old_connection->socket.is_open());
    CHECK(recent->socket.is_open());
    run_pending(io);
    CHECK(pool.lease(upstream.endpoint()) == recent);
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("close_all_idle closes every idle connection", "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback a(io);
    Loopback b(io);
    auto to_a = a.connect();
    auto to_b = b.connect();
    pool.keep(to_a, Clock::now());
    pool.keep(to_b, Clock::now());
    pool.close_all_idle();
    CHECK_FALSE(to_a->socket.is_open());
    CHECK_FALSE(to_b->socket.is_open());
    run_pending(io);
    CHECK(pool.lease(a.endpoint()) == nullptr);
    CHECK(pool.lease(b.endpoint()) == nullptr);
}

TEST_CASE("in-flight counters are per endpoint", "[proxy][upstream_pool]") {
    UpstreamPool pool;
    const tcp::endpoint a(asio::ip::make_address("10.1.0.11"), 8069);
    const tcp::endpoint b(asio::ip::make_address("10.1.0.12"), 8069);
    const tcp::endpoint a_longpolling(asio::ip::make_address("10.1.0.11"), 8072);
    CHECK(pool.load(a).in_flight == 0);
    ++pool.load(a).in_flight;
    ++pool.load(a).in_flight;
    ++pool.load(b).in_flight;
    CHECK(pool.load(a).in_flight == 2);
    CHECK(pool.load(b).in_flight == 1);
    CHECK(pool.load(a_longpolling).in_flight == 0);
    --pool.load(a).in_flight;
    CHECK(pool.load(a).in_flight == 1);
    CHECK(pool.load(b).in_flight == 1);
}

TEST_CASE("prune keeps the in-flight count of a removed endpoint", "[proxy][upstream_pool]") {
    // Requests in flight to a drained endpoint finish and decrement their own counter, through
    // the reference they took before the exchange.
    UpstreamPool pool;
    const tcp::endpoint removed(asio::ip::make_address("10.1.0.11"), 8069);
    const tcp::endpoint idle(asio::ip::make_address("10.1.0.12"), 8069);
    auto& held = pool.load(removed);
    ++held.in_flight;
    CHECK(pool.load(idle).in_flight == 0);
    pool.prune(Clock::now(), 1min, [](const tcp::endpoint&) { return false; });
    CHECK(&pool.load(removed) == &held);
    CHECK(held.in_flight == 1);
    --held.in_flight;
    CHECK(pool.load(removed).in_flight == 0);
}

TEST_CASE("prune keeps passive health while it remembers failures", "[proxy][upstream_pool]") {
    UpstreamPool pool;
    const tcp::endpoint failing(asio::ip::make_address("10.1.0.11"), 8069);
    const auto now = Clock::now();
    for (int i = 0; i < tg::proxy::PassiveHealth::default_fall; ++i)
        pool.load(failing).passive.record(false, now);
    REQUIRE_FALSE(pool.load(failing).passive.available(now));

    pool.prune(now, 1min, [](const tcp::endpoint&) { return true; });
    CHECK_FALSE(pool.load(failing).passive.available(now));

    // An endpoint that left the config takes its ejection with it.
    pool.prune(now, 1min, [](const tcp::endpoint&) { return false; });
    CHECK(pool.load(failing).passive.available(now));
}

TEST_CASE("a kept connection is watched only from the next sweep", "[proxy][upstream_pool]") {
    // Leased again before the sweep (a busy connection), it never had a watch to cancel; idle
    // across a sweep, an upstream close retires it.
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    auto connection = upstream.connect();
    pool.keep(connection, Clock::now());
    CHECK_FALSE(connection->watched);
    upstream.peers[0].close();
    run_pending(io);
    CHECK(connection->socket.is_open());

    sweep(pool);
    CHECK(connection->watched);
    CHECK(run_until(io, [&] { return !connection->socket.is_open(); }));
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
}

TEST_CASE("a connection that sent a PROXY header is leased to its client only",
          "[proxy][upstream_pool]") {
    Loop loop;
    auto& io = loop.io;
    UpstreamPool pool;
    Loopback upstream(io);
    const auto alice = *tg::config::parse_ip("192.0.2.1");
    const auto bob = *tg::config::parse_ip("192.0.2.2");
    const auto alice_v6 = *tg::config::parse_ip("2001:db8::1");

    auto plain = upstream.connect();
    auto for_alice = upstream.connect();
    for_alice->proxied_for = alice;
    pool.keep(plain, Clock::now());
    pool.keep(for_alice, Clock::now());

    CHECK(pool.lease(upstream.endpoint(), &bob) == nullptr);
    CHECK(pool.lease(upstream.endpoint(), &alice_v6) == nullptr);
    // Without a PROXY header, the newest kept connection (alice's) is passed over.
    CHECK(pool.lease(upstream.endpoint()) == plain);
    CHECK(pool.lease(upstream.endpoint()) == nullptr);
    CHECK(pool.lease(upstream.endpoint(), &alice) == for_alice);
    CHECK(pool.lease(upstream.endpoint(), &alice) == nullptr);
}

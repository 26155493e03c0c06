#include "proxy/readiness.hpp"

#include <fcntl.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string_view>
#include <thread>

#include "proxy/fresh_accept.hpp"
#include "proxy/http/direct_write.hpp"

using namespace tg::proxy;
using namespace std::chrono_literals;

namespace {

/// A connected pair on 127.0.0.1: `served` as the proxy holds it, `peer` as a client.
struct Connection {
    explicit Connection(asio::io_context& io) : served(io), peer(io) {
        tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        peer.connect(acceptor.local_endpoint());
        acceptor.accept(served);
    }
    void send(std::string_view bytes) { asio::write(peer, asio::buffer(bytes)); }
    tcp::socket served;
    tcp::socket peer;
};

/// Counts when the read names its buffer and when it gives it back.
struct CountingTarget {
    std::array<char, 64>* buffer;
    std::size_t size;
    int* prepared;
    int* found_nothing_count;
    asio::mutable_buffer prepare() const {
        ++*prepared;
        return asio::buffer(buffer->data(), size);
    }
    void found_nothing() const { ++*found_nothing_count; }
};

struct ReadResult {
    error_code ec;
    std::size_t n = 0;
};

/// A read's completion handler that stores its result in `result`.
auto into(std::optional<ReadResult>& result) {
    return [&result](error_code ec, std::size_t n) { result = ReadResult{ec, n}; };
}

/// A context, its reactor and a connection on it, and a target that counts.
struct Counted {
    asio::io_context io;
    const Reactor reactor{io};
    Connection connection{io};
    std::array<char, 64> buffer{};
    int prepared = 0;
    int nothing = 0;
    CountingTarget target(std::size_t size) { return {&buffer, size, &prepared, &nothing}; }
};

/// Runs the context until `done` holds, for 5 s at most.
template <class Condition>
bool run_until(asio::io_context& io, Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_one_for(50ms);
    }
    return done();
}

/// Waits until the kernel has `bytes` queued on `served`, for 5 s at most.
bool queued(tcp::socket& served, std::size_t bytes) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (served.available() < bytes && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    return served.available() >= bytes;
}

}  // namespace

TEST_CASE(
    "async_read_drained: after a short read, the next read waits for new bytes without "
    "naming its buffer",
    "[proxy][readiness]") {
    Counted t;
    auto& [io, reactor, connection, buffer, prepared, nothing] = t;
    const auto target = t.target(buffer.size());

    connection.send("abc");
    REQUIRE(queued(connection.served, 3));
    std::optional<ReadResult> first;
    async_read_drained(reactor, connection.served, target, into(first));
    REQUIRE(run_until(io, [&] { return first.has_value(); }));
    CHECK(!first->ec);
    CHECK(std::string_view(buffer.data(), first->n) == "abc");
    CHECK(prepared == 1);

    // Three bytes into 64: the socket was drained, so the next read is not even tried.
    std::optional<ReadResult> second;
    async_read_drained(reactor, connection.served, target, into(second));
    io.restart();
    io.poll();
    CHECK(!second.has_value());
    CHECK(prepared == 1);
    CHECK(nothing == 0);

    connection.send("de");
    REQUIRE(run_until(io, [&] { return second.has_value(); }));
    CHECK(!second->ec);
    CHECK(std::string_view(buffer.data(), second->n) == "de");
    CHECK(prepared == 2);
    CHECK(nothing == 0);
}

TEST_CASE(
    "async_read_drained: a read that fills its buffer leaves the next one tried at once; "
    "one that finds nothing gives its buffer back",
    "[proxy][readiness]") {
    Counted t;
    auto& [io, reactor, connection, buffer, prepared, nothing] = t;
    const auto four_bytes = t.target(4);

    // A new socket has had no read: the first one is tried, finds nothing, and waits.
    std::optional<ReadResult> first;
    async_read_drained(reactor, connection.served, four_bytes, into(first));
    CHECK(prepared == 1);
    CHECK(nothing == 1);
    connection.send("abcdef");
    REQUIRE(run_until(io, [&] { return first.has_value(); }));
    CHECK(std::string_view(buffer.data(), first->n) == "abcd");
    CHECK(prepared == 2);
    CHECK(nothing == 1);

    // Four of four: more may be there, and is.
    std::optional<ReadResult> second;
    async_read_drained(reactor, connection.served, four_bytes, into(second));
    CHECK(prepared == 3);
    REQUIRE(run_until(io, [&] { return second.has_value(); }));
    CHECK(std::string_view(buffer.data(), second->n) == "ef");
}

TEST_CASE("async_read_drained: end of stream, cancel and close end a read", "[proxy][readiness]") {
    asio::io_context io;
    const Reactor reactor(io);
    std::array<char, 64> buffer{};

    SECTION("the peer closes") {
        Connection connection(io);
        connection.send("x");
        REQUIRE(queued(connection.served, 1));
        std::optional<ReadResult> result;
        async_read_drained(reactor, connection.served, asio::buffer(buffer), into(result));
        REQUIRE(run_until(io, [&] { return result.has_value(); }));
        CHECK(result->n == 1);
        result.reset();
        async_read_drained(reactor, connection.served, asio::buffer(buffer), into(result));
        connection.peer.close();
        REQUIRE(run_until(io, [&] { return result.has_value(); }));
        CHECK(result->ec == asio::error::eof);
        CHECK(result->n == 0);
    }
    SECTION("the socket's operations are cancelled, or it is closed") {
        Connection connection(io);
        const bool closing = GENERATE(false, true);
        std::optional<ReadResult> result;
        async_read_drained(reactor, connection.served, asio::buffer(buffer), into(result));
        io.restart();
        io.poll();
        REQUIRE(!result.has_value());
        if (closing)
            connection.served.close();
        else
            connection.served.cancel();
        REQUIRE(run_until(io, [&] { return result.has_value(); }));
        CHECK(result->ec == asio::error::operation_aborted);
    }
}

TEST_CASE("async_read_drained: Beast reads a message through DrainedReads", "[proxy][readiness]") {
    asio::io_context io;
    const Reactor reactor(io);
    Connection connection(io);
    connection.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    DrainedReads reads(reactor, connection.served);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    std::optional<error_code> result;
    http::async_read(reads, buffer, response, [&](error_code ec, std::size_t) { result = ec; });
    REQUIRE(run_until(io, [&] { return result.has_value(); }));
    CHECK(!*result);
    CHECK(response.result_int() == 200);
    CHECK(response.body() == "ok");
}

namespace {

/// A connection accepted by async_accept_fresh on `io`, its client, and the listening socket.
struct FreshConnection {
    explicit FreshConnection(asio::io_context& io) : reactor(io), listening(io), client(io) {
        tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        const auto address = acceptor.local_endpoint();
        listening.assign(tcp::v4(), acceptor.release());
        std::optional<std::pair<error_code, tcp::socket>> accepted;
        async_accept_fresh(reactor, listening, peer, [&](error_code ec, tcp::socket socket) {
            accepted.emplace(ec, std::move(socket));
        });
        client.connect(address);
        REQUIRE(run_until(io, [&] { return accepted.has_value(); }));
        REQUIRE(!accepted->first);
        served.emplace(std::move(accepted->second));
    }
    bool registered() { return reactor_access::implementation(*served).reactor_data_ != nullptr; }
    const Reactor reactor;
    tcp::socket listening;
    tcp::endpoint peer;
    tcp::socket client;
    std::optional<tcp::socket> served;
};

}  // namespace

TEST_CASE("async_accept_fresh: a connection comes non-blocking, close-on-exec, with its peer",
          "[proxy][readiness]") {
    asio::io_context io;
    FreshConnection fresh(io);
    auto& [reactor, listening, peer, client, served] = fresh;
    auto& socket = *served;
    CHECK(peer == client.local_endpoint());
    CHECK((::fcntl(socket.native_handle(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(socket.native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(socket.non_blocking());  // Asio knows: a write that cannot proceed fails at once
    // Closed without deregistering first: nothing else holds the descriptor.
    CHECK((reactor_access::implementation(socket).state_ &
           asio::detail::socket_ops::possible_dup) == 0);

    asio::write(client, asio::buffer(std::string_view("ping")));
    std::array<char, 8> buffer{};
    std::optional<ReadResult> read;
    async_read_drained(reactor, socket, asio::buffer(buffer), into(read));
    REQUIRE(run_until(io, [&] { return read.has_value(); }));
    CHECK(std::string_view(buffer.data(), read->n) == "ping");

    // A pending accept ends when the listening socket closes.
    std::optional<error_code> aborted;
    async_accept_fresh(reactor, listening, peer, [&](error_code ec, tcp::socket) { aborted = ec; });
    io.restart();
    io.poll();
    REQUIRE(!aborted.has_value());
    listening.close();
    REQUIRE(run_until(io, [&] { return aborted.has_value(); }));
    CHECK(*aborted == asio::error::operation_aborted);
}

TEST_CASE(
    "async_accept_fresh: an accepted connection whose completion never ran is closed with "
    "its context",
    "[proxy][readiness]") {
    asio::io_context client_io;
    tcp::socket client(client_io);
    bool called = false;
    {
        asio::io_context io;
        const Reactor reactor(io);
        tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        client.connect(acceptor.local_endpoint());
        tcp::socket listening(io);
        listening.assign(tcp::v4(), acceptor.release());
        tcp::endpoint peer;
        // The connection is queued, so the accept is made at once; its completion waits for a
        // run that never comes.
        async_accept_fresh(reactor, listening, peer,
                           [&](error_code, tcp::socket) { called = true; });
    }
    CHECK(!called);
    const timeval five_seconds{5, 0};  // bounds the read below if the connection stayed open
    REQUIRE(::setsockopt(client.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five_seconds,
                         sizeof five_seconds) == 0);
    std::array<char, 1> byte{};
    error_code ec;
    client.read_some(asio::buffer(byte), ec);
    CHECK(ec == asio::error::eof);
}

TEST_CASE("async_accept_fresh: a connection is registered with epoll only once a read has to wait",
          "[proxy][readiness]") {
    asio::io_context io;
    FreshConnection fresh(io);
    auto& served = *fresh.served;
    CHECK(!fresh.registered());

    // The request is there: read at once, and written back at once, with no registration.
    asio::write(fresh.client, asio::buffer(std::string_view("GET")));
    REQUIRE(queued(served, 3));
    std::array<char, 8> buffer{};
    std::optional<ReadResult> first;
    async_read_drained(fresh.reactor, served, asio::buffer(buffer), into(first));
    REQUIRE(run_until(io, [&] { return first.has_value(); }));
    CHECK(std::string_view(buffer.data(), first->n) == "GET");
    asio::write(served, asio::buffer(std::string_view("200")));
    CHECK(!fresh.registered());

    // Nothing more has come: this read registers the socket, and epoll says when bytes come.
    std::optional<ReadResult> second;
    async_read_drained(fresh.reactor, served, asio::buffer(buffer), into(second));
    io.restart();
    io.poll();
    CHECK(!second.has_value());
    CHECK(fresh.registered());
    asio::write(fresh.client, asio::buffer(std::string_view("next")));
    REQUIRE(run_until(io, [&] { return second.has_value(); }));
    CHECK(!second->ec);
    CHECK(std::string_view(buffer.data(), second->n) == "next");

    served.close();
    const timeval five_seconds{5, 0};
    REQUIRE(::setsockopt(fresh.client.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &five_seconds,
                         sizeof five_seconds) == 0);
    std::array<char, 8> answer{};
    CHECK(asio::read(fresh.client, asio::buffer(answer, 3)) == 3);
    CHECK(std::string_view(answer.data(), 3) == "200");
    error_code ec;
    fresh.client.read_some(asio::buffer(answer), ec);
    CHECK(ec == asio::error::eof);
}

TEST_CASE(
    "async_accept_fresh: a write the socket cannot take at once registers it and completes "
    "as the client reads",
    "[proxy][readiness]") {
    asio::io_context io;
    FreshConnection fresh(io);
    auto& served = *fresh.served;
    const int small = 4096;
    REQUIRE(::setsockopt(served.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
    const std::string body(4 * 1024 * 1024, 'x');  // more than loopback buffers take
    std::optional<std::tuple<error_code, std::size_t>> written;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            written = co_await write_bytes(served, asio::buffer(body));
        },
        asio::detached);
    io.restart();
    io.poll();
    REQUIRE(!written.has_value());
    CHECK(fresh.registered());

    std::size_t received = 0;
    std::array<char, 65536> sink{};
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    fresh.client.non_blocking(true);
    while ((!written || received < body.size()) && std::chrono::steady_clock::now() < deadline) {
        error_code ec;
        received += fresh.client.read_some(asio::buffer(sink), ec);
        io.restart();
        io.run_one_for(1ms);
    }
    REQUIRE(written.has_value());
    CHECK(!std::get<0>(*written));
    CHECK(std::get<1>(*written) == body.size());
    CHECK(received == body.size());
}

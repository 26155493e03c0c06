#include "proxy/listening_socket.hpp"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>

#include "proxy/fresh_accept.hpp"

using namespace tg::proxy;
using namespace std::chrono_literals;

namespace {

int option(int descriptor, int level, int name) {
    int value = -1;
    socklen_t length = sizeof value;
    REQUIRE(::getsockopt(descriptor, level, name, &value, &length) == 0);
    return value;
}

}  // namespace

TEST_CASE("open_acceptor: accepted connections come with TCP_NODELAY, no setsockopt of their own",
          "[proxy][listening]") {
    asio::io_context io;
    const Reactor reactor(io);
    auto acceptor = open_acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}, true);
    const auto address = acceptor.local_endpoint();
    CHECK(option(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT) == 1);
    tcp::socket listening(io);
    listening.assign(tcp::v4(), acceptor.release());

    tcp::endpoint peer;
    std::optional<tcp::socket> accepted;
    async_accept_fresh(reactor, listening, peer, [&](error_code ec, tcp::socket socket) {
        REQUIRE(!ec);
        accepted.emplace(std::move(socket));
    });
    tcp::socket client(io);
    client.connect(address);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!accepted && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_one_for(50ms);
    }
    REQUIRE(accepted.has_value());
    CHECK(option(accepted->native_handle(), IPPROTO_TCP, TCP_NODELAY) != 0);
    CHECK(option(client.native_handle(), IPPROTO_TCP, TCP_NODELAY) == 0);  // not the default
}

TEST_CASE("open_acceptor: an address in use is an error, not a second listener",
          "[proxy][listening]") {
    asio::io_context io;
    auto first = open_acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}, false);
    CHECK_THROWS_AS(open_acceptor(io, first.local_endpoint(), false), std::runtime_error);
}

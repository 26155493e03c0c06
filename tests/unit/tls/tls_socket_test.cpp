#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <catch2/catch.hpp>
#include <functional>

#include "pki_fixture.hpp"
#include "proxy/tls_socket.hpp"
#include "tls/context_store.hpp"
#include "tls/handshake_failure.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::system_clock;
using tg::tls::test::pki;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct Result {
    boost::system::error_code server_error;
    boost::system::error_code client_error;
    std::size_t already_read_used = 0;
    std::string received;
};

using Server = std::function<asio::awaitable<void>(tg::proxy::TlsSocket&, Result&)>;
using Client = std::function<asio::awaitable<void>(asio::ssl::stream<tcp::socket>&, Result&)>;

/// One connection over 127.0.0.1 between a TlsSocket on the store's Asio context (as the proxy
/// builds it) and an Asio client, each handshaking then running its part; within 10 s.
Result connect_pair(const tg::tls::CertificateStore& store, asio::ssl::context& client_context,
                    const std::string& server_name, const Server& server, const Client& client,
                    std::size_t read_before_handshake = 0) {
    asio::io_context io;
    const tg::proxy::Reactor reactor(io);
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    Result result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto [accept_error, socket] = co_await acceptor.async_accept(nothrow);
            REQUIRE_FALSE(accept_error);
            std::string already_read(read_before_handshake, '\0');
            if (read_before_handshake != 0) {
                auto [read_error, n] =
                    co_await asio::async_read(socket, asio::buffer(already_read), nothrow);
                REQUIRE_FALSE(read_error);
            }
            tg::proxy::TlsSocket stream(std::move(socket), store.asio_context(), reactor);
            auto [error, used] = co_await stream.async_handshake(
                asio::ssl::stream_base::server, asio::buffer(already_read), nothrow);
            result.server_error = error;
            result.already_read_used = used;
            if (!error) co_await server(stream, result);
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::ssl::stream<tcp::socket> stream(io, client_context);
            auto [connect_error] =
                co_await stream.next_layer().async_connect(acceptor.local_endpoint(), nothrow);
            REQUIRE_FALSE(connect_error);
            SSL_set_tlsext_host_name(stream.native_handle(), server_name.c_str());
            stream.set_verify_callback(asio::ssl::host_name_verification(server_name));
            auto [error] = co_await stream.async_handshake(asio::ssl::stream_base::client, nothrow);
            result.client_error = error;
            if (!error) co_await client(stream, result);
        },
        asio::detached);
    io.run_for(std::chrono::seconds(10));
    return result;
}

/// The server sends "hello"; the client reads 5 bytes.
Result serve_one(const tg::tls::CertificateStore& store, asio::ssl::context& client_context,
                 const std::string& server_name, std::size_t read_before_handshake = 0) {
    return connect_pair(
        store, client_context, server_name,
        [](tg::proxy::TlsSocket& stream, Result&) -> asio::awaitable<void> {
            co_await asio::async_write(stream, asio::buffer("hello", 5), nothrow);
        },
        [](asio::ssl::stream<tcp::socket>& stream, Result& result) -> asio::awaitable<void> {
            char data[5];
            auto [read_error, got] = co_await asio::async_read(stream, asio::buffer(data), nothrow);
            result.received.assign(data, read_error ? 0 : got);
        },
        read_before_handshake);
}

asio::ssl::context verifying_client() {
    asio::ssl::context client(asio::ssl::context::tls_client);
    client.load_verify_file(pki().root_file);
    client.set_verify_mode(asio::ssl::verify_peer);
    return client;
}

std::shared_ptr<const tg::tls::CertificateStore> store() {
    tg::config::TlsSettings settings;
    settings.certificates = {pki().erp_ecdsa, pki().wildcard};
    auto built = tg::tls::build_store(settings, system_clock::now(),
                                      std::make_shared<tg::tls::TicketKeys>(system_clock::now()));
    REQUIRE(built.errors.empty());
    return built.store;
}

}  // namespace

TEST_CASE("a TlsSocket on the store's context serves TLS over TCP", "[tls][socket]") {
    const auto certificates = store();
    auto client = verifying_client();
    const Result result = serve_one(*certificates, client, "shop.acme.com");
    CHECK_FALSE(result.server_error);
    CHECK_FALSE(result.client_error);
    CHECK(result.received == "hello");
}

TEST_CASE("a TlsSocket handshake failure maps to its reason label", "[tls][socket]") {
    const auto certificates = store();
    asio::ssl::context client(asio::ssl::context::tls_client);
    SSL_CTX_set_security_level(client.native_handle(), 0);
    SSL_CTX_set_min_proto_version(client.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_max_proto_version(client.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(client.native_handle(), "DEFAULT:@SECLEVEL=0");
    const Result result = serve_one(*certificates, client, "erp.acme.com");
    REQUIRE(result.server_error);
    CHECK(tg::tls::handshake_failure_reason(result.server_error) == "unsupported_protocol");
    CHECK(result.client_error);
}

TEST_CASE("a TlsSocket handshake takes the bytes read before it first", "[tls][socket]") {
    // As after a PROXY header: the start of the ClientHello was read from the socket already.
    const auto certificates = store();
    auto client = verifying_client();
    const Result result = serve_one(*certificates, client, "erp.acme.com", 20);
    CHECK_FALSE(result.server_error);
    CHECK(result.already_read_used == 20);
    CHECK(result.received == "hello");
}

TEST_CASE("a TlsSocket read smaller than a record gets the rest without new socket bytes",
          "[tls][socket]") {
    // One 16 KiB record read 1,000 bytes at a time: after the first read the socket is empty
    // and the rest is plaintext held in the SSL object, which no epoll edge would announce.
    const auto certificates = store();
    auto client = verifying_client();
    const std::string sent(16 * 1024, 'x');
    const Result result = connect_pair(
        *certificates, client, "erp.acme.com",
        [&](tg::proxy::TlsSocket& stream, Result& result) -> asio::awaitable<void> {
            char chunk[1000];
            while (result.received.size() < sent.size()) {
                auto [error, n] = co_await stream.async_read_some(asio::buffer(chunk), nothrow);
                if (error) co_return;
                result.received.append(chunk, n);
            }
            co_await asio::async_write(stream, asio::buffer("done", 4), nothrow);
        },
        [&](asio::ssl::stream<tcp::socket>& stream, Result&) -> asio::awaitable<void> {
            co_await asio::async_write(stream, asio::buffer(sent), nothrow);
            char done[4];
            co_await asio::async_read(stream, asio::buffer(done), nothrow);
        });
    CHECK_FALSE(result.server_error);
    CHECK(result.received == sent);
}

TEST_CASE("a TlsSocket write larger than the socket takes waits for the reader", "[tls][socket]") {
    const auto certificates = store();
    auto client = verifying_client();
    const std::string sent(8 * 1024 * 1024, 'y');
    std::size_t written = 0;
    const Result result = connect_pair(
        *certificates, client, "erp.acme.com",
        [&](tg::proxy::TlsSocket& stream, Result&) -> asio::awaitable<void> {
            auto [error, n] = co_await asio::async_write(stream, asio::buffer(sent), nothrow);
            written = error ? 0 : n;
        },
        [&](asio::ssl::stream<tcp::socket>& stream, Result& result) -> asio::awaitable<void> {
            std::string buffer(sent.size(), '\0');
            auto [error, n] = co_await asio::async_read(stream, asio::buffer(buffer), nothrow);
            result.received.assign(buffer.data(), error ? 0 : n);
        });
    CHECK(written == sent.size());
    CHECK(result.received == sent);
}

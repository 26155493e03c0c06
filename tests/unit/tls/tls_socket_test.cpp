#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <catch2/catch.hpp>

#include "pki_fixture.hpp"
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
    std::string received;
};

/// One connection over 127.0.0.1 between an ssl::stream on the store's Asio context (as the
/// proxy will build it) and an Asio client; the server sends "hello" once the handshake is done.
Result serve_one(const tg::tls::CertificateStore& store, asio::ssl::context& client_context,
                 const std::string& server_name) {
    asio::io_context io;
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    Result result;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto [accept_error, socket] = co_await acceptor.async_accept(nothrow);
            REQUIRE_FALSE(accept_error);
            asio::ssl::stream<tcp::socket> stream(std::move(socket), store.asio_context());
            auto [error] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow);
            result.server_error = error;
            if (!error) co_await asio::async_write(stream, asio::buffer("hello", 5), nothrow);
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
            if (error) co_return;
            char data[5];
            auto [read_error, got] = co_await asio::async_read(stream, asio::buffer(data), nothrow);
            result.received.assign(data, read_error ? 0 : got);
        },
        asio::detached);
    io.run();
    return result;
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

TEST_CASE("an Asio ssl::stream on the store's context serves TLS over TCP", "[tls][asio]") {
    const auto certificates = store();
    asio::ssl::context client(asio::ssl::context::tls_client);
    client.load_verify_file(pki().root_file);
    client.set_verify_mode(asio::ssl::verify_peer);
    const Result result = serve_one(*certificates, client, "shop.acme.com");
    CHECK_FALSE(result.server_error);
    CHECK_FALSE(result.client_error);
    CHECK(result.received == "hello");
}

TEST_CASE("an Asio handshake failure maps to its reason label", "[tls][asio]") {
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

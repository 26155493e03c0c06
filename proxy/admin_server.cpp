#include "proxy/admin_server.hpp"

#include <boost/json.hpp>

namespace tg::proxy {
namespace {

constexpr auto admin_read_timeout = std::chrono::seconds(10);

http::response<http::string_body> json_response(http::status status, const boost::json::value& body,
                                                unsigned version) {
    http::response<http::string_body> response{status, version};
    response.set(http::field::content_type, "application/json");
    response.body() = boost::json::serialize(body) + "\n";
    response.prepare_payload();
    return response;
}

}  // namespace

AdminServer::AdminServer(asio::io_context& control, tcp::acceptor acceptor,
                         const ServerState& state)
    : control_(control), acceptor_(std::move(acceptor)), state_(state) {}

tcp::endpoint AdminServer::local_endpoint() const {
    return acceptor_.local_endpoint();
}

void AdminServer::start() {
    asio::co_spawn(control_, accept_loop(), asio::detached);
}

void AdminServer::stop() {
    error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> AdminServer::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
        if (!acceptor_.is_open()) co_return;
        if (ec) continue;
        asio::co_spawn(control_, serve(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(1024 * 1024);
        stream.expires_after(admin_read_timeout);
        auto [read_ec, _] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (read_ec) break;
        const auto& request = parser.get();
        auto response = handle(request);
        response.keep_alive(request.keep_alive());
        auto [write_ec, __] = co_await http::async_write(stream, response, use_nothrow);
        if (write_ec || !request.keep_alive()) break;
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

http::response<http::string_body> AdminServer::handle(
    const http::request<http::string_body>& request) const {
    const auto target = request.target();
    const auto path = target.substr(0, target.find('?'));
    const unsigned version = request.version();
    const bool read = request.method() == http::verb::get || request.method() == http::verb::head;
    if (path == "/healthz" && read)
        return json_response(http::status::ok, {{"status", "ok"}}, version);
    if (path == "/readyz" && read)
        return state_.draining ? json_response(http::status::service_unavailable,
                                               {{"status", "draining"}}, version)
                               : json_response(http::status::ok, {{"status", "ready"}}, version);
    return json_response(http::status::not_found, {{"error", "no such admin endpoint"}}, version);
}

}  // namespace tg::proxy

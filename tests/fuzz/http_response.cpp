// An upstream's response as the session reads it: exchange() reads the header with Beast's
// response_parser (the session's header limit, no body limit, skip for HEAD), drops interim
// 1xx responses and checks the framing (response_framing_is_valid), then relay_response() strips
// hop-by-hop fields (strip_hop_by_hop), frames the body for the client (frame_response_for_client)
// and relays it with relay_message. Session's private glue is repeated here step for step; the code
// it calls is the production code.
//
// The first input byte is the request: bit 0 HEAD (else GET), bit 1 an HTTP/1.0 client, the
// other bits how many bytes each read of the upstream returns (read_size_for). The rest is
// what the upstream sends.
//
// Invariants: the client receives exactly one response, framed by Content-Length or chunked
// but never both, or ended by closing only for an HTTP/1.0 client; its body is every body
// byte relayed, and none for HEAD, 1xx, 204 and 304; the upstream's Content-Length is kept.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "proxy/http/header_block.hpp"
#include "proxy/http/header_rewrite.hpp"
#include "relay_harness.hpp"

namespace {

namespace http = tg::fuzz::http;
namespace asio = tg::fuzz::asio;
namespace beast = tg::fuzz::beast;
using tg::proxy::ResponseParser;

/// The session's max_header_bytes, scaled down so that fuzz inputs reach it (502).
constexpr std::uint32_t max_header_bytes = 4096;

/// The response as the client reads it (a parser that knows nothing of the proxy).
void check_client_response(std::string_view sink, bool head, bool ends_by_close,
                           std::uint64_t body_bytes, bool has_body, bool keep_alive) {
    const auto header_length = tg::proxy::header_block_length(sink);
    FUZZ_CHECK(header_length != 0);
    FUZZ_CHECK(tg::proxy::header_block_is_strict(sink.substr(0, header_length)));
    http::response_parser<http::string_body> parser;
    parser.header_limit(UINT32_MAX);
    parser.body_limit(boost::none);
    parser.skip(head);
    tg::proxy::error_code ec;
    std::size_t consumed = 0;
    while (!parser.is_done() && consumed < sink.size()) {
        consumed += parser.put(asio::buffer(sink.substr(consumed)), ec);
        if (ec == http::error::need_more) break;
        FUZZ_CHECK(!ec);
    }
    if (!parser.is_done() && ends_by_close) {
        parser.put_eof(ec);
        FUZZ_CHECK(!ec);
    }
    // One complete response and nothing after it.
    FUZZ_CHECK(parser.is_done() && consumed == sink.size());
    const auto& response = parser.get();
    // The client knows whether the proxy keeps the connection open after this response.
    FUZZ_CHECK(response.version() == 11 && parser.keep_alive() == keep_alive);
    FUZZ_CHECK(response.count(http::field::content_length) == 0 ||
               response.count(http::field::transfer_encoding) == 0);
    FUZZ_CHECK(response.count(http::field::content_length) <= 1);
    FUZZ_CHECK(response.count("X-Request-Id") == 1);
    if (has_body) {
        FUZZ_CHECK(response.body().size() == body_bytes);
    } else {
        FUZZ_CHECK(response.body().empty());
    }
    for (const auto hop : {http::field::keep_alive, http::field::te, http::field::proxy_connection,
                           http::field::trailer, http::field::upgrade})
        FUZZ_CHECK(response.count(hop) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool head = (data[0] & 1) != 0;
    const unsigned client_version = (data[0] & 2) != 0 ? 10 : 11;
    const std::string_view upstream_bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t read_size = tg::fuzz::read_size_for(data[0] >> 2, size);

    asio::io_context io;
    beast::test::stream upstream(io);
    upstream.append(upstream_bytes);
    upstream.read_size(read_size);
    upstream.close_remote();

    // exchange(): the header, after any interim 1xx responses.
    beast::flat_buffer upstream_buffer;
    std::optional<ResponseParser> response_parser;
    auto& first = response_parser.emplace();
    first.body_limit(boost::none);
    first.header_limit(max_header_bytes);
    if (head) first.skip(true);
    bool answered = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                auto [ec, _] = co_await http::async_read_header(
                    upstream, upstream_buffer, *response_parser, tg::proxy::use_nothrow);
                if (ec) co_return;  // 502
                const unsigned status = response_parser->get().result_int();
                if (status >= 200 || status == 101) break;
                response_parser.emplace();
                response_parser->body_limit(boost::none);
                if (head) response_parser->skip(true);
            }
            answered = tg::proxy::response_framing_is_valid(*response_parser);  // else 502
        },
        asio::detached);
    io.run();
    if (!answered) return 0;

    // relay_response(), for a request that asked no upgrade.
    auto& parser = *response_parser;
    auto& response = parser.get();
    const unsigned status = response.result_int();
    tg::proxy::strip_hop_by_hop(response, false);
    const bool client_keep_alive =
        tg::proxy::frame_response_for_client(parser, client_version, true);
    response.set("X-Request-Id", "0123456789abcdef0123456789abcdef");
    const bool has_body = !head && status >= 200 && status != 204 && status != 304;
    const auto upstream_length = parser.content_length();

    std::string still_to_come(upstream.str());
    const auto relayed =
        tg::fuzz::run_relay(parser, upstream_buffer, still_to_come, read_size, has_body);
    const auto& result = relayed.result;
    FUZZ_CHECK(result.bytes_written == relayed.sink.size());
    FUZZ_CHECK(!result.write_error);
    if (result.read_error) return 0;  // the client's response is cut short and closed
    FUZZ_CHECK(parser.is_done());
    const bool ends_by_close = has_body && !response.chunked() && !response.has_content_length();
    // Only a body that has no length is ended by closing, and then the connection closes.
    if (ends_by_close) FUZZ_CHECK(!client_keep_alive && !response.keep_alive());
    check_client_response(relayed.sink, head, ends_by_close, result.body_bytes, has_body,
                          client_keep_alive);
    if (has_body && upstream_length) FUZZ_CHECK(result.body_bytes == *upstream_length);
    return 0;
}

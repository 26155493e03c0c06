// A client's request as the session reads it: admit() finds the header block
// (header_block_length), parse_header_block() checks it (header_block_is_strict), parses it
// with Beast's request_parser (eager off, the session's limits) and checks the framing
// (request_framing_is_valid); route() needs a valid Host (normalize_host); forward() rewrites it
// (rewrite_upstream_request); exchange() streams it upstream with relay_message, which decodes a
// chunked body and encodes it again. The steps are Session's private glue, repeated here call for
// call; the code they call is the production code.
//
// Invariants: an accepted header block is exactly what Beast consumes; the upstream receives
// exactly one well-framed request, whose body is the one Beast decodes from the same bytes in
// one piece; the bytes after the message (a pipelined request) are kept, not lost or eaten; a
// request the relay refuses is one Beast refuses too.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "proxy/http/header_block.hpp"
#include "proxy/http/header_rewrite.hpp"
#include "relay_harness.hpp"
#include "routing/host.hpp"

namespace {

namespace http = tg::fuzz::http;
namespace asio = tg::fuzz::asio;
using tg::proxy::RequestParser;

/// The session's limits, scaled down so that fuzz inputs reach them (431 and 413).
constexpr std::size_t max_header_bytes = 4096;
constexpr std::uint64_t max_request_body = 4096;
/// What the session's first reads brought with the header (min_read_size of
/// proxy/http/client_connection.cpp).
constexpr std::size_t first_read = 4096;

/// The request as Beast parses the same bytes in one piece: done, failed, or needing more.
struct Reference {
    bool done = false;
    bool failed = false;
    std::size_t consumed = 0;
    std::string body;
};

Reference parse_whole(std::string_view bytes) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_header_bytes);
    parser.body_limit(max_request_body);
    Reference reference;
    tg::proxy::error_code ec;
    while (!parser.is_done()) {
        if (reference.consumed == bytes.size()) return reference;  // needs more
        reference.consumed += parser.put(asio::buffer(bytes.substr(reference.consumed)), ec);
        if (ec == http::error::need_more) return reference;
        if (ec) {
            reference.failed = true;
            return reference;
        }
    }
    reference.done = true;
    reference.body = parser.get().body();
    return reference;
}

/// `request`'s version and fields in the container the proxy's framing checks read.
http::request_header<tg::proxy::ProxyFields> proxy_view(const http::request_header<>& request) {
    http::request_header<tg::proxy::ProxyFields> view;
    view.version(request.version());
    for (const auto& field : request) view.insert(field.name_string(), field.value());
    return view;
}

/// What the upstream received, read by a parser that knows nothing of the proxy.
void check_upstream_request(std::string_view sink,
                            const http::request_header<tg::proxy::ProxyFields>& sent,
                            const Reference& reference) {
    const auto header_length = tg::proxy::header_block_length(sink);
    FUZZ_CHECK(header_length != 0);
    FUZZ_CHECK(tg::proxy::header_block_is_strict(sink.substr(0, header_length)));
    http::request_parser<http::string_body> parser;
    parser.header_limit(UINT32_MAX);
    parser.body_limit(boost::none);
    tg::proxy::error_code ec;
    std::size_t consumed = 0;
    while (!parser.is_done() && consumed < sink.size()) {
        consumed += parser.put(asio::buffer(sink.substr(consumed)), ec);
        FUZZ_CHECK(!ec);
    }
    // One complete request and nothing after it: no second request smuggled in.
    FUZZ_CHECK(parser.is_done() && consumed == sink.size());
    const auto& request = parser.get();
    FUZZ_CHECK(tg::proxy::request_framing_is_valid(proxy_view(request)) && request.version() == 11);
    FUZZ_CHECK(!(parser.chunked() && parser.content_length()));
    FUZZ_CHECK(request.method_string() == sent.method_string());
    FUZZ_CHECK(request.target() == sent.target());
    FUZZ_CHECK(request.body() == reference.body);
    FUZZ_CHECK(request.count("X-Forwarded-Host") == 1 && request.count("X-Request-Id") == 1);
    for (const auto hop : {http::field::keep_alive, http::field::te, http::field::proxy_connection,
                           http::field::trailer})
        FUZZ_CHECK(request.count(hop) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    // admit(): a complete header block within max_header_bytes, or the session waits / 431.
    const std::size_t header_length =
        tg::proxy::header_block_length(input.substr(0, max_header_bytes));
    if (header_length == 0) return 0;
    const std::string_view block = input.substr(0, header_length);
    FUZZ_CHECK(block.ends_with("\r\n\r\n") && block.find("\r\n\r\n") == header_length - 4);

    // parse_header_block()
    if (!tg::proxy::header_block_is_strict(block)) return 0;  // 400
    FUZZ_CHECK(block.find('\0') == std::string_view::npos);
    for (std::size_t i = 0; i < block.size(); ++i)
        if (block[i] == '\n') FUZZ_CHECK(i > 0 && block[i - 1] == '\r');
    RequestParser parser;
    parser.eager(false);
    parser.header_limit(max_header_bytes);
    parser.body_limit(max_request_body);
    tg::proxy::error_code ec;
    const std::size_t used = parser.put(asio::buffer(block.data(), block.size()), ec);
    if (ec || !parser.is_header_done()) return 0;  // 400 (413 for a Content-Length over the limit)
    // The session drops header_length bytes from its buffer: Beast must have read exactly those.
    FUZZ_CHECK(used == header_length);
    auto& request = parser.get();
    if (!tg::proxy::request_framing_is_valid(request)) return 0;  // 400
    FUZZ_CHECK(!(parser.chunked() && parser.content_length()));
    FUZZ_CHECK(request.count(http::field::host) <= 1);

    // route(): a Host header normalize_host accepts (the tenant lookup is route_decision's).
    const auto host_field = request.find(http::field::host);
    std::string host;
    if (host_field == request.end() || !tg::routing::normalize_host(host_field->value(), host))
        return 0;  // 400

    // forward()
    const bool websocket = tg::proxy::is_websocket_upgrade(request);
    const std::string original_host(request[http::field::host]);
    tg::proxy::rewrite_upstream_request(
        request,
        {"192.0.2.7", "192.0.2.7", "192.0.2.7", "http", false, original_host,
         "0123456789abcdef0123456789abcdef", "acme", true},
        websocket);
    FUZZ_CHECK(request["X-Forwarded-For"] == "192.0.2.7");

    // exchange(): the bytes read with the header stay in the session's buffer; the rest
    // arrives in reads of a size that varies with the input.
    const std::size_t buffered = std::max(header_length, std::min(size, first_read));
    tg::fuzz::beast::flat_buffer client_buffer;
    const auto with_header = input.substr(header_length, buffered - header_length);
    client_buffer.commit(
        asio::buffer_copy(client_buffer.prepare(with_header.size()), asio::buffer(with_header)));
    const std::size_t read_size = tg::fuzz::read_size_for(header_length, size);
    const auto relayed =
        tg::fuzz::run_relay(parser, client_buffer, input.substr(buffered), read_size, true);
    FUZZ_CHECK(relayed.result.bytes_written == relayed.sink.size());

    const Reference reference = parse_whole(input);
    const auto& result = relayed.result;
    if (result.read_error == http::error::buffer_overflow) {
        // A chunk line or the trailers outgrew the relay's input half (32 KiB in the session,
        // 1 KiB here): refused with a 400, a limit of the relay rather than a disagreement.
        FUZZ_CHECK(parser.chunked());
        return 0;
    }
    if (result.read_error || result.write_error) {
        // Refused or cut short: Beast refuses the same bytes or needs more of them.
        FUZZ_CHECK(!result.write_error);
        FUZZ_CHECK(!reference.done);
        return 0;
    }
    FUZZ_CHECK(parser.is_done());
    FUZZ_CHECK(reference.done);
    FUZZ_CHECK(result.body_bytes == reference.body.size());
    // What follows the message is the next request: handed back whole.
    FUZZ_CHECK(relayed.leftover == input.substr(reference.consumed));
    check_upstream_request(relayed.sink, request, reference);
    return 0;
}

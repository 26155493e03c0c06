#include "proxy/http/message_writer.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace http = tg::proxy::http;
namespace asio = tg::proxy::asio;
using tg::proxy::MessageWriter;

namespace {

using Request = http::message<true, http::buffer_body, tg::proxy::ProxyFields>;
using Response = http::message<false, http::buffer_body, tg::proxy::ProxyFields>;

/// The bytes one frame() would put on the wire.
std::string wire(MessageWriter::Buffers buffers) {
    std::string out;
    for (const auto& b : buffers) out.append(static_cast<const char*>(b.data()), b.size());
    return out;
}

}  // namespace

TEST_CASE("a request header is rendered as one block, its fields in the order they came",
          "[message_writer]") {
    Request request;
    request.method(http::verb::post);
    request.target("/web/dataset/call_kw?x=1");
    request.version(10);
    request.insert("Host", "erp.example.com");
    request.insert("X-Custom", "a, b");
    request.insert("host", "second");
    std::string text;
    tg::proxy::render_header(request, text);
    CHECK(text ==
          "POST /web/dataset/call_kw?x=1 HTTP/1.0\r\nHost: erp.example.com\r\nX-Custom: a, "
          "b\r\nhost: second\r\n\r\n");
}

TEST_CASE("a response keeps the upstream's reason, or gets the standard one", "[message_writer]") {
    Response response;
    response.version(11);
    response.result(http::status::not_found);
    response.reason("Nope");
    response.insert("Content-Length", "0");
    std::string text;
    tg::proxy::render_header(response, text);
    CHECK(text == "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n");

    Response plain;
    plain.version(11);
    plain.result(503);
    text.clear();
    tg::proxy::render_header(plain, text);
    CHECK(text == "HTTP/1.1 503 Service Unavailable\r\n\r\n");
}

TEST_CASE("a length-delimited body goes out as is, the header only once", "[message_writer]") {
    Response response;
    response.version(11);
    response.result(200);
    response.insert("Content-Length", "8");
    std::string text = "stale bytes from the previous message";
    MessageWriter writer(response, true, text);
    const std::string first = "abcd", second = "efgh";
    CHECK(wire(writer.frame(first, false)) == "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcd");
    CHECK(wire(writer.frame(second, true)) == "efgh");
}

TEST_CASE("a chunked body is re-encoded and ended by the final chunk", "[message_writer]") {
    Response response;
    response.version(11);
    response.result(200);
    response.chunked(true);
    std::string text;
    MessageWriter writer(response, true, text);
    const std::string piece(26, 'x');
    CHECK(wire(writer.frame(piece, false)) ==
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n" + piece + "\r\n");
    const std::string end = "yz";
    CHECK(wire(writer.frame(end, true)) == "2\r\nyz\r\n0\r\n\r\n");

    SECTION("an empty last piece is the final chunk alone") {
        MessageWriter again(response, true, text);
        CHECK(wire(again.frame({}, true)) ==
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    }
}

TEST_CASE("a message that cannot have a body gets no chunk framing", "[message_writer]") {
    // A response to HEAD announces the chunked body a GET would get; a final chunk after it
    // would be read by the client as the start of the next response.
    Response response;
    response.version(11);
    response.result(200);
    response.chunked(true);
    std::string text;
    MessageWriter writer(response, false, text);
    CHECK(wire(writer.frame({}, true)) == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

#include "proxy/http/proxy_fields.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "proxy/http/message_parser.hpp"

namespace http = boost::beast::http;
using tg::proxy::ProxyFields;

namespace {

using Lines = std::vector<std::pair<std::string, std::string>>;

/// The field lines still present, in order, as the sender spelled the names.
template <class Fields>
Lines lines(const Fields& fields) {
    Lines out;
    for (const auto& field : fields)
        out.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return out;
}

/// The same fields in Beast's own container and in ours.
struct BothFields {
    http::response<http::empty_body, http::fields> beast;
    http::response<http::empty_body, ProxyFields> flat;

    explicit BothFields(const Lines& fields) {
        beast.version(11);
        flat.version(11);
        for (const auto& [name, value] : fields) {
            beast.insert(name, value);
            flat.insert(name, value);
        }
    }
};

}  // namespace

TEST_CASE("fields keep their order and spelling; names match case-insensitively",
          "[proxy][proxy_fields]") {
    ProxyFields fields;
    fields.insert("HOST", "erp.example.com");
    fields.insert("x-custom", "1");
    fields.insert(http::field::accept, "*/*");
    fields.insert("X-Custom", "2");
    CHECK(lines(fields) == Lines{{"HOST", "erp.example.com"},
                                 {"x-custom", "1"},
                                 {"Accept", "*/*"},
                                 {"X-Custom", "2"}});
    CHECK(fields[http::field::host] == "erp.example.com");
    CHECK(fields["Host"] == "erp.example.com");
    CHECK(fields.count("X-CUSTOM") == 2);
    CHECK(fields["x-custom"] == "1");
    CHECK(fields.find("X-Missing") == fields.end());
    CHECK(fields["X-Missing"].empty());
    std::vector<std::string> custom;
    for (const auto& field : fields.matching("x-CUSTOM")) custom.emplace_back(field.value());
    CHECK(custom == std::vector<std::string>{"1", "2"});
}

TEST_CASE("a field the proxy adds keeps its literal name and matches like any other",
          "[proxy][proxy_fields]") {
    static constexpr std::string_view tenant = "X-Tenant";
    ProxyFields fields;
    fields.insert("x-tenant", "spoofed");
    fields.insert_own(tenant, "acme");
    CHECK(lines(fields) == Lines{{"x-tenant", "spoofed"}, {"X-Tenant", "acme"}});
    CHECK(fields.count("X-TENANT") == 2);
    const auto& own = *std::next(fields.begin());
    CHECK(own.name() == http::field::unknown);
    CHECK(own.name_string().data() == tenant.data());  // the literal itself, not a copy
    fields.set("X-Tenant", "acme");
    CHECK(lines(fields) == Lines{{"X-Tenant", "acme"}});
}

TEST_CASE("set replaces every line of a name at the end; erase removes without moving",
          "[proxy][proxy_fields]") {
    ProxyFields fields;
    fields.insert("Set-Cookie", "a=1");
    fields.insert("Host", "h");
    fields.insert("Set-Cookie", "b=2");
    fields.set(http::field::set_cookie, "c=3");
    CHECK(lines(fields) == Lines{{"Host", "h"}, {"Set-Cookie", "c=3"}});
    fields.insert("X-A", "1");
    fields.insert("X-B", "2");
    // Erasing during a walk of every field goes on to the next field.
    auto it = fields.begin();
    while (it != fields.end() && it->name_string() != "X-A") ++it;
    it = fields.erase(it);
    REQUIRE(it != fields.end());
    CHECK(it->name_string() == "X-B");
    // During a walk of one name, to the next field of that name.
    fields.insert("X-A", "3");
    const auto a = fields.matching("X-A");
    CHECK(fields.erase(a.begin()) == a.end());
    CHECK(fields.erase("x-b") == 1);
    CHECK(fields.erase("X-B") == 0);
    CHECK(lines(fields) == Lines{{"Host", "h"}, {"Set-Cookie", "c=3"}});
    fields.set("X-Request-Id", "r1");
    fields.set("x-request-id", "r2");
    CHECK(fields.count("X-Request-Id") == 1);
    CHECK(fields["X-Request-Id"] == "r2");
}

TEST_CASE("values stay valid while the arena and the list grow", "[proxy][proxy_fields]") {
    ProxyFields fields;
    fields.insert(http::field::host, "erp.example.com");
    const std::string_view host = fields[http::field::host];
    std::vector<std::string_view> kept;
    for (int i = 0; i < 200; ++i) {
        const std::string value(static_cast<std::size_t>(i * 7), 'v');
        fields.insert("X-Field-" + std::to_string(i), value);
        kept.push_back(fields["X-Field-" + std::to_string(i)]);
    }
    fields.set(http::field::host, host);  // a value of the list itself, copied as it is erased
    CHECK(fields[http::field::host] == "erp.example.com");
    CHECK(host == "erp.example.com");
    for (int i = 0; i < 200; ++i)
        CHECK(kept[static_cast<std::size_t>(i)] ==
              std::string(static_cast<std::size_t>(i * 7), 'v'));
    CHECK(fields.count("X-Field-199") == 1);
}

TEST_CASE("copies and moves carry every field and the start line", "[proxy][proxy_fields]") {
    http::request_header<ProxyFields> request;
    request.method_string("PROPFIND");
    request.target("/dav/a?b=c");
    request.version(11);
    request.insert("Host", "erp.example.com");
    request.insert("x-a", std::string(2000, 'a'));
    request.erase("Host");
    const auto copy = request;
    CHECK(copy.method_string() == "PROPFIND");
    CHECK(copy.target() == "/dav/a?b=c");
    CHECK(lines(copy) == Lines{{"x-a", std::string(2000, 'a')}});
    auto moved = std::move(request);
    CHECK(moved.target() == "/dav/a?b=c");
    CHECK(lines(moved) == lines(copy));
    request = moved;
    CHECK(request.target() == "/dav/a?b=c");
    CHECK(lines(request) == lines(copy));
}

TEST_CASE("clear drops the fields and keeps the start line", "[proxy][proxy_fields]") {
    http::request_header<ProxyFields> request;
    request.method_string("PROPFIND");
    request.target("/websocket");
    request.insert("Upgrade", "websocket");
    CHECK(request.held_bytes() >= 1024);
    request.clear();
    CHECK(request.begin() == request.end());
    // What a tunnel keeps for hours: the start line and the arena block's header, no more.
    CHECK(request.held_bytes() <= 64);
    CHECK(request.method_string() == "PROPFIND");
    CHECK(request.target() == "/websocket");
    request.insert("Host", "h");
    CHECK(lines(request) == Lines{{"Host", "h"}});
}

TEST_CASE("framing accessors read and write the fields as Beast's own do",
          "[proxy][proxy_fields]") {
    const std::vector<Lines> cases = {
        {},
        {{"Connection", "close"}},
        {{"Connection", "keep-alive, Upgrade"}},
        {{"Connection", "Close, foo"}, {"Connection", "bar"}},
        {{"Transfer-Encoding", "chunked"}},
        {{"Transfer-Encoding", "gzip, chunked"}},
        {{"Transfer-Encoding", "chunked, gzip"}},
        {{"Transfer-Encoding", "gzip"}, {"Content-Length", "5"}},
        {{"Content-Length", "12"}},
    };
    for (const auto& fields : cases) {
        for (const unsigned version : {10u, 11u}) {
            for (const bool value : {false, true}) {
                BothFields keep_alive(fields);
                keep_alive.beast.version(version);
                keep_alive.flat.version(version);
                CHECK(keep_alive.flat.keep_alive() == keep_alive.beast.keep_alive());
                keep_alive.beast.keep_alive(value);
                keep_alive.flat.keep_alive(value);
                CHECK(lines(keep_alive.flat) == lines(keep_alive.beast));

                BothFields chunked(fields);
                CHECK(chunked.flat.chunked() == chunked.beast.chunked());
                CHECK(chunked.flat.has_content_length() == chunked.beast.has_content_length());
                chunked.beast.chunked(value);
                chunked.flat.chunked(value);
                CHECK(lines(chunked.flat) == lines(chunked.beast));

                BothFields length(fields);
                length.beast.content_length(value ? boost::optional<std::uint64_t>(42)
                                                  : boost::none);
                length.flat.content_length(value ? boost::optional<std::uint64_t>(42)
                                                 : boost::none);
                CHECK(lines(length.flat) == lines(length.beast));
            }
        }
    }
}

TEST_CASE("the parser fills the message as Beast's parser does, the body into the window",
          "[proxy][proxy_fields]") {
    const std::string text =
        "POST /web/dataset?x=1 HTTP/1.1\r\nHost: erp.example.com\r\nX-Thing:  a b \r\n"
        "cookie: s=1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    http::request_parser<http::string_body> beast;
    beast.eager(true);
    tg::proxy::RequestParser flat;
    boost::beast::error_code ec;
    beast.put(boost::asio::buffer(text), ec);
    REQUIRE(!ec);

    // Read the body four bytes at a time: the parser asks for a new window when one is full.
    std::array<char, 4> window{};
    std::string body;
    std::size_t consumed = 0;
    for (int round = 0; round < 20 && !flat.is_done(); ++round) {
        flat.get().body().data = window.data();
        flat.get().body().size = window.size();
        consumed +=
            flat.put(boost::asio::buffer(text.data() + consumed, text.size() - consumed), ec);
        if (ec == http::error::need_buffer) ec = {};
        REQUIRE(!ec);
        body.append(window.data(), window.size() - flat.get().body().size);
    }
    REQUIRE(flat.is_done());
    CHECK(consumed == text.size());
    CHECK(body == "hello world");
    CHECK(body == beast.get().body());
    const auto& request = flat.get();
    CHECK(request.method() == http::verb::post);
    CHECK(request.target() == "/web/dataset?x=1");
    CHECK(request.version() == 11);
    CHECK(lines(request) == lines(beast.get()));
    CHECK(request["X-Thing"] == "a b");
    CHECK(flat.chunked());
}

TEST_CASE("a response parser keeps the status line", "[proxy][proxy_fields]") {
    const std::string text = "HTTP/1.0 299 Quite Fine\r\nContent-Length: 0\r\n\r\n";
    tg::proxy::ResponseParser parser;
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(text), ec);
    REQUIRE(!ec);
    REQUIRE(parser.is_done());
    CHECK(parser.get().result_int() == 299);
    CHECK(parser.get().reason() == "Quite Fine");
    CHECK(parser.get().version() == 10);
    CHECK(lines(parser.get()) == Lines{{"Content-Length", "0"}});
}

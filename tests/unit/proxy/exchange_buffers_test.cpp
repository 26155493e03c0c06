#include "proxy/exchange_buffers.hpp"

#include <catch2/catch.hpp>

using namespace tg::proxy;

TEST_CASE("ExchangeBuffers: an idle connection's buffers are kept spare and handed out again",
          "[proxy][exchange_buffers]") {
    ExchangeBuffers spares;
    beast::flat_buffer read;
    std::string header_text;
    spares.take(read, header_text);  // none spare yet: they stay empty
    CHECK(read.capacity() == 0);

    read.commit(asio::buffer_copy(read.prepare(4096), asio::buffer("GET / HTTP/1.1\r\n\r\n")));
    read.consume(read.size());
    header_text.assign(500, 'x');
    const auto* memory = read.prepare(1).data();
    spares.give_back(read, header_text);
    CHECK(read.capacity() == 0);
    CHECK(header_text.capacity() < 500);

    beast::flat_buffer other;
    std::string other_text;
    spares.take(other, other_text);
    CHECK(other.capacity() >= 4096);
    CHECK(other.prepare(1).data() == memory);
    CHECK(other_text.capacity() >= 500);
}

TEST_CASE("ExchangeBuffers: a buffer grown by a large header block is freed, not kept",
          "[proxy][exchange_buffers]") {
    ExchangeBuffers spares;
    beast::flat_buffer read;
    std::string header_text;
    read.prepare(ExchangeBuffers::max_kept_capacity + 1);
    spares.give_back(read, header_text);
    CHECK(read.capacity() == 0);

    beast::flat_buffer other;
    std::string other_text;
    spares.take(other, other_text);
    CHECK(other.capacity() == 0);
}

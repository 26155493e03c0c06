#pragma once

#include <algorithm>
#include <array>
#include <boost/beast/_experimental/test/stream.hpp>
#include <string>
#include <string_view>

#include "proxy/http/relay.hpp"

/// Runs the production relay_message between two in-memory streams: the source holds the
/// bytes still to come from the peer and hands them out `read_size` at a time, the sink
/// collects what the relay writes.
namespace tg::fuzz {

namespace asio = proxy::asio;
namespace beast = proxy::beast;
namespace http = proxy::http;

/// The relay buffer: the session borrows 64 KiB; this one is small enough that inputs of a
/// few KiB fill both halves (the need_buffer and full-staging paths).
inline constexpr std::size_t relay_buffer_size = 2048;

/// How many bytes one read of the peer returns, chosen by `seed`: whole messages as a fast
/// local peer sends them, down to one byte at a time (every parser state split across reads),
/// but no more than 256 reads for `total` bytes, so that large inputs stay fast to run.
inline std::size_t read_size_for(std::size_t seed, std::size_t total) {
    static constexpr std::array<std::size_t, 16> sizes = {
        4096, 1, 2, 3, 4, 5, 7, 11, 16, 61, 128, 509, 1024, 1500, 2048, 4095};
    return std::max(sizes[seed % sizes.size()], total / 256 + 1);
}

/// What a relay did with its input.
struct Relayed {
    proxy::RelayResult result;
    std::string sink;      ///< every byte written to the other side
    std::string leftover;  ///< bytes past the message: back in the buffer, or never read
};

template <bool isRequest>
Relayed run_relay(proxy::MessageParser<isRequest>& parser, beast::flat_buffer& in_buffer,
                  std::string_view still_to_come, std::size_t read_size, bool has_body) {
    asio::io_context io;
    beast::test::stream in(io);
    beast::test::stream out(io);
    beast::test::stream other_side(io);
    out.connect(other_side);
    in.append(still_to_come);
    in.read_size(read_size);
    in.close_remote();  // the peer has sent everything: a read past it sees end of stream

    Relayed relayed;
    proxy::ConnectionSlot slot;
    std::string header_text;
    std::array<char, relay_buffer_size> chunk;
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            relayed.result = co_await proxy::relay_message(
                in, in_buffer, parser, out, slot, std::chrono::seconds(10),
                std::chrono::seconds(10), chunk, header_text, has_body);
            finished = true;
        },
        asio::detached);
    io.run();
    if (!finished) std::abort();  // the relay waits for bytes that will never come
    relayed.sink = std::string(other_side.str());
    relayed.leftover.assign(static_cast<const char*>(in_buffer.data().data()), in_buffer.size());
    relayed.leftover += in.str();
    return relayed;
}

}  // namespace tg::fuzz

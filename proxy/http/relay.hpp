#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "proxy/connection_slot.hpp"
#include "proxy/http/direct_write.hpp"
#include "proxy/http/message_parser.hpp"
#include "proxy/http/message_writer.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// How a message relay ended: which side failed, if any, and how much moved.
struct RelayResult {
    error_code read_error;
    error_code write_error;
    std::uint64_t body_bytes = 0;     ///< body bytes read from the source
    std::uint64_t bytes_written = 0;  ///< header and body bytes written to the sink
};

/// Streams a message whose header `parser` has already read from `in` to `out`: the header
/// (as it now stands in parser.get(), rendered into `header_text`) and the first body bytes go
/// in one write, then the body follows chunk by chunk through `chunk`, so memory stays bounded
/// whatever the body's size. Chunked bodies are decoded and re-encoded, so no chunk framing
/// reaches the sink unchecked. `has_body`: see MessageWriter.
///
/// The borrowed `chunk` holds both ends of the body's way: once the bytes already in
/// `in_buffer` (read with the header) are parsed, its first half receives what is read from
/// `in` and its second half the body the parser decodes. `in_buffer`, sized for a header and a
/// typical body and kept across requests, never grows for a body, so a keep-alive connection
/// costs no allocation per message; bytes read past the message (a pipelined request) are
/// handed back to `in_buffer` at the end.
///
/// Each read from `in` must complete within `read_timeout` and each write to `out` within
/// `write_timeout`: a peer that stops sending, or stops reading, ends the relay.
template <bool isRequest, class In, class Out>
asio::awaitable<RelayResult> relay_message(In& in, beast::flat_buffer& in_buffer,
                                           MessageParser<isRequest>& parser, Out& out,
                                           ConnectionSlot& slot, Clock::duration read_timeout,
                                           Clock::duration write_timeout, std::span<char> chunk,
                                           std::string& header_text, bool has_body) {
    RelayResult result;
    const auto input_area = chunk.first(chunk.size() / 2);
    const auto body_area = chunk.subspan(chunk.size() / 2);
    beast::flat_static_buffer_base staging(input_area.data(), input_area.size());
    MessageWriter writer(parser.get(), has_body, header_text);
    auto& body = parser.get().body();
    for (;;) {
        std::span<const char> piece;
        if (!parser.is_done()) {
            body.data = body_area.data();
            body.size = body_area.size();
            // Bytes read with the header (a small body, all of it) are parsed here: Beast's
            // async_read_some would parse them too, but then post its completion since it read
            // nothing, a scheduler round (an epoll_wait, when the worker is not busy) more.
            error_code ec = http::error::need_more;  // nothing buffered: read
            if (in_buffer.size() != 0) in_buffer.consume(parser.put(in_buffer.data(), ec));
            if (ec == http::error::need_more) {
                slot.arm(Clock::now(), read_timeout);
                if (in_buffer.size() == 0) {
                    auto [read_ec, _] =
                        co_await http::async_read_some(in, staging, parser, use_nothrow);
                    ec = read_ec;
                } else {
                    auto [read_ec, _] =
                        co_await http::async_read_some(in, in_buffer, parser, use_nothrow);
                    ec = read_ec;
                }
            }
            if (ec == http::error::need_buffer) ec = {};
            if (ec) {
                result.read_error = ec;
                co_return result;
            }
            piece = body_area.first(body_area.size() - body.size);
            result.body_bytes += piece.size();
            // Nothing decoded yet (e.g. only a chunk header arrived): read on.
            if (piece.empty() && !parser.is_done()) continue;
        }
        const bool last = parser.is_done();
        slot.arm(Clock::now(), write_timeout);
        auto [ec, written] = co_await write_bytes(out, writer.frame(piece, last));
        result.bytes_written += written;
        if (ec) {
            result.write_error = ec;
            co_return result;
        }
        if (last) break;
    }
    if (staging.size() != 0) {
        in_buffer.commit(asio::buffer_copy(in_buffer.prepare(staging.size()), staging.data()));
    }
    co_return result;
}

}  // namespace tg::proxy

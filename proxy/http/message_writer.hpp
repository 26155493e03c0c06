#pragma once

#include <array>
#include <span>
#include <string>

#include "proxy/http/proxy_fields.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// Appends the start line and the fields of `header`, then the empty line, to `out`.
void render_header(const http::request_header<ProxyFields>& header, std::string& out);
void render_header(const http::response_header<ProxyFields>& header, std::string& out);

/// Frames an outgoing message for relay_message: the header as one contiguous block, then each
/// body piece as it comes, chunk-encoded when the outgoing message is chunked (the final chunk
/// carries no trailers). Beast's serializer gives the socket a buffer per start-line part and
/// per field and walks those nested sequences on every write: a fifth of the instructions of a
/// proxied request went there.
class MessageWriter {
  public:
    /// The buffers of one write; valid until the next call to frame().
    using Buffers = std::span<const asio::const_buffer>;

    /// `header_text` holds the rendered header (its capacity is reused from message to
    /// message). `has_body`: false for what carries no body whatever its framing headers say
    /// (a response to HEAD, 1xx, 204, 304), so no final chunk is sent for it.
    template <bool isRequest>
    MessageWriter(const http::message<isRequest, http::buffer_body, ProxyFields>& message,
                  bool has_body, std::string& header_text)
        : header_text_(header_text), chunked_(has_body && message.chunked()) {
        header_text_.clear();
        render_header(message, header_text_);
    }

    /// The next write: the header if not sent yet, then `piece` of the body; `last` when the
    /// body ends with it.
    Buffers frame(std::span<const char> piece, bool last);

  private:
    std::string& header_text_;
    bool chunked_;
    bool header_sent_ = false;
    std::array<char, 18> chunk_size_line_{};  ///< 16 hex digits and CRLF at most
    std::array<asio::const_buffer, 5> buffers_;
};

}  // namespace tg::proxy

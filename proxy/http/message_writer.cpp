#include "proxy/http/message_writer.hpp"

#include <charconv>
#include <cstring>

namespace tg::proxy {
namespace {

constexpr std::string_view crlf = "\r\n";
constexpr std::string_view final_chunk = "0\r\n\r\n";

void append_version(unsigned version, std::string& out) {
    out += "HTTP/";
    out += static_cast<char>('0' + version / 10);
    out += '.';
    out += static_cast<char>('0' + version % 10);
}

/// A usual header fits: `out` is allocated once per connection instead of growing by doubling
/// (five allocations for a usual header); a larger one still grows.
constexpr std::size_t usual_header_size = 1024;

/// Sized first, then copied: one growth check for the block instead of four per field.
void append_fields(const ProxyFields& fields, std::string& out) {
    constexpr std::size_t separators = 4;  // ": " and CRLF
    std::size_t size = out.size() + crlf.size();
    for (const auto& field : fields)
        size += field.name_string().size() + field.value().size() + separators;
    const std::size_t start = out.size();
    out.resize(size);
    char* next = out.data() + start;
    const auto copy = [&next](std::string_view text) {
        std::memcpy(next, text.data(), text.size());
        next += text.size();
    };
    for (const auto& field : fields) {
        copy(field.name_string());
        copy(": ");
        copy(field.value());
        copy(crlf);
    }
    copy(crlf);
}

}  // namespace

void render_header(const http::request_header<ProxyFields>& header, std::string& out) {
    out.reserve(usual_header_size);
    out += header.method_string();
    out += ' ';
    out += header.target();
    out += ' ';
    append_version(header.version(), out);
    out += crlf;
    append_fields(header, out);
}

void render_header(const http::response_header<ProxyFields>& header, std::string& out) {
    const auto reason =
        header.reason().empty() ? http::obsolete_reason(header.result()) : header.reason();
    out.reserve(usual_header_size);
    append_version(header.version(), out);
    const unsigned status = header.result_int();
    out += ' ';
    out += static_cast<char>('0' + status / 100 % 10);
    out += static_cast<char>('0' + status / 10 % 10);
    out += static_cast<char>('0' + status % 10);
    out += ' ';
    out += reason;
    out += crlf;
    append_fields(header, out);
}

MessageWriter::Buffers MessageWriter::frame(std::span<const char> piece, bool last) {
    std::size_t count = 0;
    if (!header_sent_) {
        buffers_[count++] = asio::buffer(header_text_);
        header_sent_ = true;
    }
    if (!chunked_) {
        if (!piece.empty()) buffers_[count++] = asio::buffer(piece.data(), piece.size());
        return {buffers_.data(), count};
    }
    if (!piece.empty()) {
        auto* end =
            std::to_chars(chunk_size_line_.data(), chunk_size_line_.data() + 16, piece.size(), 16)
                .ptr;
        *end++ = '\r';
        *end++ = '\n';
        buffers_[count++] = asio::buffer(chunk_size_line_.data(),
                                         static_cast<std::size_t>(end - chunk_size_line_.data()));
        buffers_[count++] = asio::buffer(piece.data(), piece.size());
        buffers_[count++] = asio::buffer(crlf.data(), crlf.size());
    }
    if (last) buffers_[count++] = asio::buffer(final_chunk.data(), final_chunk.size());
    return {buffers_.data(), count};
}

}  // namespace tg::proxy

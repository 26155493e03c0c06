#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>

#include "proxy/http/proxy_fields.hpp"

namespace tg::proxy {

/// Beast's parsing into a message with ProxyFields: Beast's http::parser stores fields only in
/// its basic_fields. The body goes where a buffer_body points, as with Beast's parser: the
/// relay points it at its buffer before each read.
template <bool isRequest>
class MessageParser final : public boost::beast::http::basic_parser<isRequest> {
  public:
    using message_type =
        boost::beast::http::message<isRequest, boost::beast::http::buffer_body, ProxyFields>;

    MessageParser() = default;
    MessageParser(const MessageParser&) = delete;
    MessageParser& operator=(const MessageParser&) = delete;

    message_type& get() { return message_; }
    const message_type& get() const { return message_; }

  private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;

    void on_request_impl(boost::beast::http::verb method, string_view method_string,
                         string_view target, int version, error_code&) override {
        if constexpr (isRequest) {
            message_.target(target);
            if (method != boost::beast::http::verb::unknown)
                message_.method(method);
            else
                message_.method_string(method_string);
            message_.version(static_cast<unsigned>(version));
        }
    }

    void on_response_impl(int status, string_view reason, int version, error_code&) override {
        if constexpr (!isRequest) {
            message_.result(static_cast<unsigned>(status));
            message_.version(static_cast<unsigned>(version));
            message_.reason(reason);
        }
    }

    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code&) override {
        message_.insert(name, name_string, value);
    }

    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}

    std::size_t on_body_impl(string_view body, error_code& ec) override {
        return take_body(body, ec);
    }

    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
        return take_body(body, ec);
    }

    void on_finish_impl(error_code&) override {}

    /// As Beast's buffer_body reader: copies what fits, and asks for a buffer when it is full.
    std::size_t take_body(string_view body, error_code& ec) {
        auto& window = message_.body();
        if (window.data == nullptr) {
            ec = boost::beast::http::error::need_buffer;
            return 0;
        }
        const std::size_t taken = std::min(body.size(), window.size);
        std::memcpy(window.data, body.data(), taken);
        window.data = static_cast<char*>(window.data) + taken;
        window.size -= taken;
        if (taken != body.size()) ec = boost::beast::http::error::need_buffer;
        return taken;
    }

    message_type message_;
};

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;

}  // namespace tg::proxy

#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

/// Names shared by the I/O shell: one spelling of the namespaces and the completion token.
namespace tg::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

/// Data-path operations report errors as values (STYLE: no exceptions on the data path).
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

}  // namespace tg::proxy

#pragma once

#include <tuple>
#include <type_traits>

#include "proxy/io.hpp"
#include "proxy/reactor_access.hpp"

namespace tg::proxy {

/// A plain socket in non-blocking mode is written at once, from the coroutine, when it takes
/// the bytes (the usual case: the kernel's send buffer is free). An asynchronous write would
/// make the same sendmsg, but Asio posts even a completion it has at once behind the reactor,
/// so each write would cost one more scheduler round (often an epoll_wait) and a coroutine
/// resumption. A TLS stream is always written asynchronously: a synchronous write cut short by
/// a full socket would lose the encrypted bytes it has already taken.
template <class Stream>
inline constexpr bool writes_directly = std::is_same_v<Stream, tcp::socket>;

/// A plain socket in that mode is read directly too: a read that finds nothing fails with
/// would_block. A TLS stream is not: its SSL object may hold bytes the socket no longer shows.
template <class Stream>
inline constexpr bool reads_directly = std::is_same_v<Stream, tcp::socket>;

/// Puts the socket in the mode writes_directly needs: a write that cannot proceed fails with
/// would_block instead of blocking the worker.
inline void enable_direct_writes(tcp::socket& socket, error_code& ec) {
    socket.non_blocking(true, ec);
}

/// Writes all of `bytes` (a buffer sequence): directly as far as the socket takes them, the
/// rest asynchronously.
template <class Stream, class ConstBuffers>
asio::awaitable<std::tuple<error_code, std::size_t>> write_bytes(Stream& out, ConstBuffers bytes) {
    std::size_t written = 0;
    if constexpr (writes_directly<Stream>) {
        error_code ec;
        written = asio::write(out, bytes, ec);
        if (ec != asio::error::would_block) co_return std::tuple{ec, written};
        if ((ec = reactor_access::register_for_waits(out))) co_return std::tuple{ec, written};
    }
    beast::buffers_suffix<ConstBuffers> rest(bytes);
    rest.consume(written);
    auto [ec, more] = co_await asio::async_write(out, rest, use_nothrow);
    co_return std::tuple{ec, written + more};
}

}  // namespace tg::proxy

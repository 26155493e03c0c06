#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "proxy/buffer_pool.hpp"
#include "proxy/connection_slot.hpp"
#include "proxy/http/direct_write.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {

/// A plain socket can wait for readability without a buffer; a TLS stream may already hold
/// decrypted bytes that the socket's readiness would never announce, so it must read.
template <class Stream>
inline constexpr bool waits_before_read = std::is_same_v<Stream, tcp::socket>;

/// Moves a tunnel's bytes (an upgraded WebSocket connection) both ways until either side
/// closes or fails, or the connection slot cancels the I/O (idle timeout, drain). Each
/// direction is a chain of completion handlers, not a coroutine: an idle tunnel costs two
/// pending operations instead of two coroutine stacks and the parallel group joining them,
/// and an Odoo cluster keeps thousands of them open. A plain socket waits for readability
/// before it borrows a relay buffer, so an idle plain tunnel holds none; a TLS client is read
/// into the pump's own 4 KiB.
template <class Client>
class TunnelPump {
  public:
    TunnelPump(Client& client, tcp::socket& upstream, BufferPool& buffers, ConnectionSlot& slot,
               Clock::duration idle_timeout, std::uint64_t& to_upstream, std::uint64_t& to_client)
        : client_(client),
          upstream_(upstream),
          buffers_(buffers),
          slot_(slot),
          idle_timeout_(idle_timeout),
          to_upstream_(to_upstream),
          to_client_(to_client) {}

    TunnelPump(const TunnelPump&) = delete;
    TunnelPump& operator=(const TunnelPump&) = delete;

    /// Starts both directions. Returns what to co_await: it completes once both have stopped,
    /// and the pump may then go.
    auto run() {
        running_ = 2;
        read(client_, upstream_, to_upstream_);
        read(upstream_, client_, to_client_);
        return stopped_.async_wait(use_nothrow);
    }

  private:
    template <class From, class To>
    void read(From& from, To& to, std::uint64_t& moved) {
        if (stopping_) return stop();  // a completion that raced with the other side's end
        if constexpr (waits_before_read<From>) {
            from.async_wait(tcp::socket::wait_read,
                            [this, &from, &to, &moved](const error_code& ec) {
                                if (ec) return stop();
                                read_ready(from, to, moved);
                            });
        } else {
            from.async_read_some(asio::buffer(tls_input_),
                                 [this, &from, &to, &moved](const error_code& ec, std::size_t n) {
                                     if (ec) return stop();
                                     write(from, to, moved, asio::buffer(tls_input_.data(), n),
                                           std::monostate{});
                                 });
        }
    }

    /// `from` (a plain socket) is readable: take what is there without another wait.
    template <class From, class To>
    void read_ready(From& from, To& to, std::uint64_t& moved) {
        auto lease = buffers_.borrow();
        const auto space = lease.span();
        error_code ec;
        const std::size_t n = from.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec == asio::error::would_block) return read(from, to, moved);
        if (ec) return stop();
        write(from, to, moved, asio::buffer(space.data(), n), std::move(lease));
    }

    /// Writes `bytes`, which `holder` keeps alive (a borrowed buffer, or nothing for tls_input_)
    /// until they are written.
    template <class From, class To, class Holder>
    void write(From& from, To& to, std::uint64_t& moved, asio::const_buffer bytes, Holder holder) {
        slot_.arm(Clock::now(), idle_timeout_);
        const std::size_t n = bytes.size();
        std::size_t written = 0;
        if constexpr (writes_directly<To>) {
            error_code ec;
            written = asio::write(to, bytes, ec);
            if (!ec) {
                moved += n;
                return read(from, to, moved);
            }
            if (ec != asio::error::would_block) return stop();
        }
        asio::async_write(to, bytes + written,
                          [this, &from, &to, &moved, n, holder = std::move(holder)](
                              const error_code& ec, std::size_t) mutable {
                              if (ec) return stop();
                              moved += n;
                              read(from, to, moved);
                          });
    }

    /// One direction has ended: the other is cancelled, and the last one out ends the wait on
    /// `stopped_` (its completion is posted: nothing of the pump is touched after that).
    void stop() {
        if (!stopping_) {
            stopping_ = true;
            error_code ignored;
            client_.lowest_layer().cancel(ignored);
            upstream_.cancel(ignored);
        }
        if (--running_ == 0) stopped_.cancel();
    }

    Client& client_;
    tcp::socket& upstream_;
    BufferPool& buffers_;
    ConnectionSlot& slot_;
    Clock::duration idle_timeout_;
    std::uint64_t& to_upstream_;
    std::uint64_t& to_client_;
    int running_ = 0;
    bool stopping_ = false;
    asio::steady_timer stopped_{upstream_.get_executor(), Clock::time_point::max()};
    /// Where a TLS client's bytes are read: a TLS stream cannot wait for readability without
    /// reading (it may hold decrypted bytes the socket never announces), so an idle TLS tunnel
    /// keeps a read pending into this, not into a borrowed 64 KiB relay buffer. WebSocket
    /// messages of an Odoo bus are small; a large one takes a few reads.
    using TlsInput = std::array<char, 4096>;
    [[no_unique_address]] std::conditional_t<waits_before_read<Client>, std::monostate, TlsInput>
        tls_input_;
};

}  // namespace tg::proxy

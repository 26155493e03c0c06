#pragma once

#include <memory>
#include <span>
#include <vector>

namespace tg::proxy {

/// Relay buffers of one worker, recycled: a request borrows one only while bytes move, so an
/// idle keep-alive or WebSocket connection holds none (10,000 idle tunnels cost no buffers).
class BufferPool {
  public:
    static constexpr std::size_t buffer_size = 64 * 1024;

    /// A borrowed buffer, returned to the pool when destroyed.
    class Lease {
      public:
        Lease(BufferPool& pool, std::unique_ptr<char[]> memory)
            : pool_(&pool), memory_(std::move(memory)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (memory_) pool_->give_back(std::move(memory_));
        }
        std::span<char> span() const { return {memory_.get(), buffer_size}; }

      private:
        BufferPool* pool_;
        std::unique_ptr<char[]> memory_;
    };

    Lease borrow() {
        if (free_.empty()) return Lease(*this, std::make_unique_for_overwrite<char[]>(buffer_size));
        auto memory = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(memory));
    }

  private:
    static constexpr std::size_t max_free_ = 64;
    void give_back(std::unique_ptr<char[]> memory) {
        if (free_.size() < max_free_) free_.push_back(std::move(memory));
    }
    std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace tg::proxy

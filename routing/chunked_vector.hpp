#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

/// Per-tenant tables indexed by slot, at 20,000 tenants: a copy shares every chunk with the
/// vector it was made from, and changing one element copies its chunk (256 elements), so the
/// next generation of a table costs what changed, not what it holds.
namespace tg::routing {

template <class T>
class ChunkedVector {
  public:
    static constexpr std::size_t chunk_size = 256;

    /// Elements, set or not.
    [[nodiscard]] std::size_t size() const { return size_; }
    /// Elements are default-constructed until set.
    void resize(std::size_t size) {
        chunks_.resize((size + chunk_size - 1) / chunk_size);
        size_ = size;
    }
    /// The element at `index` (< size()); a default one when never set.
    [[nodiscard]] const T& operator[](std::size_t index) const {
        static const T empty{};
        const auto& chunk = chunks_[index / chunk_size];
        return chunk ? (*chunk)[index % chunk_size] : empty;
    }
    /// Copies the element's chunk first unless this vector is its only owner (a table being
    /// built, or a chunk already copied for this change): no copy of it can see the write.
    void set(std::size_t index, T value) {
        auto& chunk = chunks_[index / chunk_size];
        if (!chunk)
            chunk = std::make_shared<Chunk>();
        else if (chunk.use_count() != 1)
            chunk = std::make_shared<Chunk>(*chunk);
        (*chunk)[index % chunk_size] = std::move(value);
    }
    /// True when chunk `chunk` (elements chunk * chunk_size ...) is the very one `other` holds:
    /// nothing in it changed between the two.
    [[nodiscard]] bool shares_chunk(const ChunkedVector& other, std::size_t chunk) const {
        return chunk < chunks_.size() && chunk < other.chunks_.size() &&
               chunks_[chunk] == other.chunks_[chunk];
    }
    /// Chunks of chunk_size elements (the last one may be partly used).
    [[nodiscard]] std::size_t chunk_count() const { return chunks_.size(); }
    /// Makes chunk `chunk` the one `other` holds (both must have it).
    void share_chunk(const ChunkedVector& other, std::size_t chunk) {
        chunks_[chunk] = other.chunks_[chunk];
    }

  private:
    using Chunk = std::array<T, chunk_size>;
    /// Null: every element default. Not const, for set()'s write in place; shared ones are never
    /// written.
    std::vector<std::shared_ptr<Chunk>> chunks_;
    std::size_t size_ = 0;
};

}  // namespace tg::routing

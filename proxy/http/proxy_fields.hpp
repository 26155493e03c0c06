#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/optional.hpp>

#include "proxy/http/field_allocator.hpp"

namespace tg::proxy {

/// The header fields of a proxied message, kept as a flat list in arrival order whose text sits
/// in one arena. Beast's basic_fields allocates every field on its own and links it into a
/// list and a red-black tree by name: that bookkeeping was 30 % of the instructions of a
/// proxied keep-alive request. A message has a few dozen fields, so a walk of the list finds a
/// name as fast as the tree did, and appending costs one copy into the arena. The arena and the
/// list come from the worker's SmallBlockPool and are released with the message: an idle
/// connection holds neither.
///
/// It meets Beast's Fields requirements, so `http::message<isRequest, Body, ProxyFields>` keeps
/// Beast's start-line and framing accessors (chunked, keep_alive, ...), with Beast's semantics.
/// Removed fields are marked and skipped rather than moved, and text stays where it was put
/// until clear(): a value read from the list stays valid while fields are added and removed.
class ProxyFields {
  public:
    /// One field line.
    class Field {
      public:
        boost::beast::http::field name() const { return name_; }
        std::string_view name_string() const { return {name_text_, name_size_}; }
        std::string_view value() const { return {value_text_, value_size_}; }

      private:
        friend class ProxyFields;
        const char* name_text_;
        const char* value_text_;
        std::uint32_t name_size_;
        std::uint32_t value_size_;
        boost::beast::http::field name_;
        bool removed_;
    };
    using value_type = Field;

    /// Walks the fields still present, in order; with a name, only those of that name.
    class const_iterator {
      public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = Field;
        using difference_type = std::ptrdiff_t;
        using pointer = const Field*;
        using reference = const Field&;

        const_iterator() = default;
        reference operator*() const { return *at_; }
        pointer operator->() const { return at_; }
        const_iterator& operator++() {
            ++at_;
            skip();
            return *this;
        }
        const_iterator operator++(int) {
            auto before = *this;
            ++*this;
            return before;
        }
        bool operator==(const const_iterator& other) const { return at_ == other.at_; }

      private:
        friend class ProxyFields;
        const_iterator(const Field* at, const Field* end) : at_(at), end_(end) { skip(); }
        /// Only the fields named `only`, or `only_name` when that is no known name.
        const_iterator(const Field* at, const Field* end, boost::beast::http::field only,
                       std::string_view only_name)
            : at_(at), end_(end), only_(only), only_name_(only_name), filtered_(true) {
            skip();
        }
        bool wanted(const Field& field) const {
            if (field.removed_) return false;
            if (!filtered_) return true;
            return field.name_ == only_ && (only_ != boost::beast::http::field::unknown ||
                                            boost::beast::iequals(field.name_string(), only_name_));
        }
        void skip() {
            while (at_ != end_ && !wanted(*at_)) ++at_;
        }
        const Field* at_ = nullptr;
        const Field* end_ = nullptr;
        boost::beast::http::field only_ = boost::beast::http::field::unknown;
        std::string_view only_name_;
        bool filtered_ = false;
    };
    using iterator = const_iterator;

    /// The fields of one name, for a range-for.
    class Matching {
      public:
        const_iterator begin() const { return begin_; }
        const_iterator end() const { return end_; }

      private:
        friend class ProxyFields;
        Matching(const_iterator begin, const_iterator end) : begin_(begin), end_(end) {}
        const_iterator begin_;
        const_iterator end_;
    };

    ProxyFields() = default;
    ProxyFields(const ProxyFields& other);
    ProxyFields(ProxyFields&& other) noexcept;
    ProxyFields& operator=(const ProxyFields& other);
    ProxyFields& operator=(ProxyFields&& other) noexcept;
    ~ProxyFields();

    const_iterator begin() const { return {fields_.data(), fields_.data() + fields_.size()}; }
    const_iterator end() const {
        const auto* last = fields_.data() + fields_.size();
        return {last, last};
    }

    /// The fields named `name`.
    Matching matching(boost::beast::http::field name) const;
    Matching matching(std::string_view name) const;
    const_iterator find(boost::beast::http::field name) const;
    const_iterator find(std::string_view name) const;
    std::size_t count(boost::beast::http::field name) const;
    std::size_t count(std::string_view name) const;
    /// The value of the first field named `name`, or empty.
    std::string_view operator[](boost::beast::http::field name) const;
    std::string_view operator[](std::string_view name) const;

    /// Appends a field, its name as spelled (Beast's own spelling for a field given by enum).
    void insert(boost::beast::http::field name, std::string_view value);
    void insert(std::string_view name, std::string_view value);
    void insert(boost::beast::http::field name, std::string_view name_string,
                std::string_view value);
    /// Appends a field the proxy itself adds (X-Forwarded-For, X-Tenant): its name is a string
    /// literal that Beast's table does not know, so it is neither looked up nor copied.
    void insert_own(std::string_view literal_name, std::string_view value);
    /// Replaces every field named `name` by one with `value`, at the end.
    void set(boost::beast::http::field name, std::string_view value);
    void set(std::string_view name, std::string_view value);
    /// Removes one field; returns the next of the walk `at` comes from (of the fields of one
    /// name when it comes from matching or find).
    const_iterator erase(const_iterator at);
    /// Removes every field named `name`; returns how many there were.
    std::size_t erase(boost::beast::http::field name);
    std::size_t erase(std::string_view name);
    /// Removes every field and releases the storage; the start line's text is kept, in a block
    /// of its size (a WebSocket tunnel keeps it for the access log, for hours).
    void clear();
    /// The memory the fields and the start line hold.
    std::size_t held_bytes() const;

  protected:
    // Beast's Fields requirements: the start line's text and the framing fields, for
    // http::header and http::message.
    std::string_view get_method_impl() const { return method_; }
    std::string_view get_target_impl() const { return target_; }
    std::string_view get_reason_impl() const { return reason_; }
    bool get_chunked_impl() const;
    bool get_keep_alive_impl(unsigned version) const;
    bool has_content_length_impl() const;
    void set_method_impl(std::string_view text) { method_ = keep(text); }
    void set_target_impl(std::string_view text) { target_ = keep(text); }
    void set_reason_impl(std::string_view text) { reason_ = keep(text); }
    void set_chunked_impl(bool value);
    void set_content_length_impl(const boost::optional<std::uint64_t>& value);
    void set_keep_alive_impl(unsigned version, bool keep_alive);

  private:
    /// A piece of the arena: a header followed by its bytes.
    struct Block {
        Block* next;
        std::size_t capacity;
        std::size_t used;
        char* bytes() { return reinterpret_cast<char*>(this + 1); }
    };

    /// Copies `text` into the arena, where it stays until clear().
    std::string_view keep(std::string_view text);
    /// Starts a new block of the arena.
    void add_block(std::size_t capacity);
    void add(boost::beast::http::field name, std::string_view name_string, std::string_view value);
    Matching matching(boost::beast::http::field name, std::string_view name_string) const;
    static std::size_t count(const Matching& fields);
    std::size_t erase(const Matching& fields);
    void release();
    void copy_from(const ProxyFields& other);

    std::vector<Field, FieldAllocator<Field>> fields_;
    Block* arena_ = nullptr;  ///< the block being filled; earlier ones follow `next`
    std::string_view method_;
    std::string_view target_;
    std::string_view reason_;
};

}  // namespace tg::proxy

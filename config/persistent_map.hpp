#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg::config {

/// An ordered map from string to V whose copies share structure, for per-tenant tables.
///
/// Why: with 20,000 tenants, adding one through the admin API used to copy every std::map in
/// the snapshot. Here a copy is one shared_ptr copy, and a change builds only the O(log n) nodes
/// on its path (measured at 20,000 keys: 18 on average, 30 at most); every other node stays
/// shared with the map it was copied from, which readers of the old snapshot keep using.
///
/// How: a treap of immutable nodes, changed by functional split and merge (path copying). A
/// node's priority is the hash of its key, so the shape depends only on the set of keys: two
/// maps with equal contents have the same shape, and `==` skips the subtrees they share.
///
/// Cost: one heap node per entry (key, value, priority, two child pointers, refcount); a lookup
/// follows about 2 ln n pointers (~20 at 20,000) against ~14 for std::map; a change copies the
/// nodes on its path, values included, so keep V cheap to copy (a std::shared_ptr<const T> for
/// a big T). Depth is O(log n) as long as keys are not picked to defeat std::hash, and
/// destruction recurses only as deep as the tree.
///
/// Threads: nodes are never changed once built, so const calls, and copies used on different
/// threads, are safe; a non-const call must not overlap any other call on the same object.
template <class V>
class PersistentMap {
    struct Node;
    using NodePtr = std::shared_ptr<const Node>;

  public:
    using key_type = std::string;
    using mapped_type = V;
    using value_type = std::pair<const std::string, V>;
    using size_type = std::size_t;

    /// Walks the entries in key order. A change to the map it came from invalidates it (the
    /// nodes on its path may be freed); a copy of the map keeps them alive.
    class const_iterator {
      public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = PersistentMap::value_type;
        using difference_type = std::ptrdiff_t;
        using pointer = const value_type*;
        using reference = const value_type&;

        /// The end iterator.
        const_iterator() = default;

        /// The entry; the key is `first`, the value `second`, as for std::map.
        reference operator*() const { return node_->entry; }
        /// The entry, for `found->second`.
        pointer operator->() const { return &node_->entry; }

        /// Steps to the next key, or to end() after the last one.
        const_iterator& operator++() {
            assert(node_ != nullptr && "incremented past the end");
            if (!later_known_) remember_later();
            if (node_->right) {
                const Node* next = node_->right.get();
                for (; next->left; next = next->left.get()) later_.push_back(next);
                node_ = next;
            } else if (later_.empty()) {
                node_ = nullptr;
            } else {
                node_ = later_.back();
                later_.pop_back();
            }
            return *this;
        }
        /// Steps on and returns where it was.
        const_iterator operator++(int) {
            const_iterator before = *this;
            ++*this;
            return before;
        }

        /// Same entry of the same map, or both at the end.
        friend bool operator==(const const_iterator& a, const const_iterator& b) {
            return a.node_ == b.node_;
        }

      private:
        friend class PersistentMap;

        const_iterator(const Node* root, const Node* node) : root_(root), node_(node) {}

        /// find() walks down without recording anything, so that a lookup
        /// allocates nothing; the ancestors are found again on the first step.
        void remember_later() {
            for (const Node* at = root_; at != node_;) {
                if (node_->key() < at->key()) {
                    later_.push_back(at);
                    at = at->left.get();
                } else {
                    at = at->right.get();
                }
            }
            later_known_ = true;
        }

        const Node* root_ = nullptr;
        const Node* node_ = nullptr;      ///< null at the end
        std::vector<const Node*> later_;  ///< ancestors after node_ in key order, nearest last
        bool later_known_ = false;        ///< later_ is filled
    };
    using iterator = const_iterator;

    /// An empty map.
    PersistentMap() = default;
    /// O(1): shares every node.
    PersistentMap(const PersistentMap&) = default;
    /// O(1): shares every node; the nodes only `this` held are freed.
    PersistentMap& operator=(const PersistentMap&) = default;
    /// Leaves `other` empty.
    PersistentMap(PersistentMap&& other) noexcept
        : root_(std::move(other.root_)), size_(std::exchange(other.size_, 0)) {}
    /// Leaves `other` empty.
    PersistentMap& operator=(PersistentMap&& other) noexcept {
        root_ = std::move(other.root_);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }
    ~PersistentMap() = default;

    /// Sets `key` to `value`; true when the key is new. O(log n) new nodes.
    bool insert_or_assign(std::string key, V value) {
        bool added = false;
        const std::size_t priority = priority_of(key);
        root_ = inserted(root_, std::move(key), std::move(value), priority, added);
        size_ += added ? 1 : 0;
        return added;
    }

    /// A map of `entries`, for loading a saved table: one node per entry after a sort, where
    /// inserting them one by one would build and drop O(log n) nodes each. A key given twice
    /// keeps its last value, as insert_or_assign would.
    static PersistentMap from_entries(std::vector<std::pair<std::string, V>> entries) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        // The last of equal keys: std::unique keeps the first of a run, so look from the back.
        const auto same_key = [](const auto& a, const auto& b) { return a.first == b.first; };
        entries.erase(entries.begin(),
                      std::unique(entries.rbegin(), entries.rend(), same_key).base());
        // The treap of sorted keys is their Cartesian tree by rank: one pass with a stack of
        // the right spine, then the nodes made children first.
        constexpr std::size_t none = static_cast<std::size_t>(-1);
        const std::size_t n = entries.size();
        std::vector<std::size_t> priority(n), left(n, none), right(n, none), spine;
        for (std::size_t i = 0; i < n; ++i) {
            priority[i] = priority_of(entries[i].first);
            std::size_t below = none;
            while (!spine.empty() &&
                   ranks_above(priority[i], entries[i].first, priority[spine.back()],
                               entries[spine.back()].first)) {
                below = spine.back();
                spine.pop_back();
            }
            left[i] = below;
            if (!spine.empty()) right[spine.back()] = i;
            spine.push_back(i);
        }
        const auto build = [&](const auto& self, std::size_t i) -> NodePtr {
            if (i == none) return nullptr;
            NodePtr less = self(self, left[i]);
            NodePtr greater = self(self, right[i]);
            return std::make_shared<Node>(std::move(entries[i].first), std::move(entries[i].second),
                                          priority[i], std::move(less), std::move(greater));
        };
        PersistentMap map;
        map.root_ = spine.empty() ? nullptr : build(build, spine.front());
        map.size_ = n;
        return map;
    }

    /// Adds `key` unless present, like std::map::emplace: the bool is true when added, and
    /// the iterator points at the entry for `key` either way.
    std::pair<const_iterator, bool> emplace(std::string key, V value) {
        if (const_iterator found = find(key); found != end()) return {found, false};
        insert_or_assign(key, std::move(value));
        return {find(key), true};
    }

    /// Removes `key`; false (and nothing copied) when absent. O(log n) new nodes.
    bool erase(std::string_view key) {
        bool found = false;
        NodePtr rest = erased(root_, key, found);
        if (!found) return false;
        root_ = std::move(rest);
        --size_;
        return true;
    }

    /// Empties the map; nodes still shared with copies stay alive for them.
    void clear() noexcept {
        root_.reset();
        size_ = 0;
    }

    /// Number of entries, O(1).
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// No entries.
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// The entry for `key`, or end(). Allocates nothing.
    [[nodiscard]] const_iterator find(std::string_view key) const {
        return const_iterator(root_.get(), find_node(key));
    }
    /// Whether `key` has an entry.
    [[nodiscard]] bool contains(std::string_view key) const { return find_node(key) != nullptr; }
    /// The value for `key`, or null; valid until this map changes (or longer, in a copy).
    [[nodiscard]] const V* get(std::string_view key) const {
        const Node* node = find_node(key);
        return node ? &node->entry.second : nullptr;
    }
    /// The value for `key`; throws std::out_of_range when absent, like std::map::at.
    [[nodiscard]] const V& at(std::string_view key) const {
        if (const V* value = get(key)) return *value;
        throw std::out_of_range("PersistentMap::at: no such key");
    }
    /// The smallest key's entry; allocates the iterator's ancestor stack (O(log n)).
    [[nodiscard]] const_iterator begin() const {
        const_iterator first(root_.get(), root_.get());
        if (first.node_ == nullptr) return first;
        for (; first.node_->left; first.node_ = first.node_->left.get()) {
            first.later_.push_back(first.node_);
        }
        first.later_known_ = true;
        return first;
    }
    /// Past the largest key.
    [[nodiscard]] const_iterator end() const noexcept { return const_iterator(); }

    /// Calls `on_change(key, before_value, after_value)` for each key whose entry differs
    /// between `before` and `after`, in key order; a null value is a key one side lacks. The
    /// pointers are valid during the call only. Subtrees the two maps share are skipped, so two
    /// versions of one map a few changes apart cost O(changes * log n), not a pass over both.
    template <class F>
    static void diff(const PersistentMap& before, const PersistentMap& after, F&& on_change) {
        diff_nodes(before.root_, after.root_, on_change);
    }

    /// Same keys with equal values. O(1) for copies of one map; otherwise the shapes match node
    /// for node when the contents do, and shared subtrees are skipped.
    friend bool operator==(const PersistentMap& a, const PersistentMap& b) {
        return a.size_ == b.size_ && same_entries(a.root_.get(), b.root_.get());
    }

  private:
    struct Node {
        Node(std::string key, V value, std::size_t priority_, NodePtr left_, NodePtr right_)
            : entry(std::move(key), std::move(value)),
              priority(priority_),
              left(std::move(left_)),
              right(std::move(right_)) {}
        /// A copy of `from`'s entry over new children: one step of path copying.
        Node(const Node& from, NodePtr left_, NodePtr right_)
            : entry(from.entry),
              priority(from.priority),
              left(std::move(left_)),
              right(std::move(right_)) {}

        [[nodiscard]] const std::string& key() const noexcept { return entry.first; }

        value_type entry;
        std::size_t priority;
        NodePtr left;   ///< keys less than entry.first
        NodePtr right;  ///< keys greater than entry.first
    };

    /// A function of the key alone, so that the shape of the tree is canonical.
    static std::size_t priority_of(std::string_view key) noexcept {
        return std::hash<std::string_view>{}(key);
    }

    /// Whether (priority, key) sits above `node` in the heap order; the key breaks ties in
    /// priority so that the order stays total and the shape canonical.
    static bool outranks(std::size_t priority, std::string_view key, const Node& node) noexcept {
        return ranks_above(priority, key, node.priority, node.key());
    }
    static bool ranks_above(std::size_t priority, std::string_view key, std::size_t other_priority,
                            std::string_view other_key) noexcept {
        return priority != other_priority ? priority > other_priority : key < other_key;
    }

    static NodePtr copy_with(const Node& node, NodePtr left, NodePtr right) {
        return std::make_shared<Node>(node, std::move(left), std::move(right));
    }

    const Node* find_node(std::string_view key) const noexcept {
        for (const Node* at = root_.get(); at;) {
            const int order = key.compare(at->key());
            if (order == 0) return at;
            at = order < 0 ? at->left.get() : at->right.get();
        }
        return nullptr;
    }

    /// `node`'s subtree with `key` set to `value`. An existing key is always met before a node
    /// it outranks (a parent outranks its children), so the split is only done for new keys.
    static NodePtr inserted(const NodePtr& node, std::string&& key, V&& value, std::size_t priority,
                            bool& added) {
        if (!node) {
            added = true;
            return std::make_shared<Node>(std::move(key), std::move(value), priority, nullptr,
                                          nullptr);
        }
        const int order = std::string_view(key).compare(node->key());
        if (order == 0) {
            return std::make_shared<Node>(std::move(key), std::move(value), priority, node->left,
                                          node->right);
        }
        if (outranks(priority, key, *node)) {
            added = true;
            auto [less, greater] = split(node, key);
            return std::make_shared<Node>(std::move(key), std::move(value), priority,
                                          std::move(less), std::move(greater));
        }
        if (order < 0) {
            return copy_with(
                *node, inserted(node->left, std::move(key), std::move(value), priority, added),
                node->right);
        }
        return copy_with(*node, node->left,
                         inserted(node->right, std::move(key), std::move(value), priority, added));
    }

    /// `node`'s subtree cut into the keys less than and greater than `key`, which it does not
    /// hold. A subtree that falls wholly on one side is reused, not copied.
    static std::pair<NodePtr, NodePtr> split(const NodePtr& node, std::string_view key) {
        if (!node) return {};
        assert(key != node->key() && "split at a key the tree holds");
        if (std::string_view(node->key()) < key) {
            auto [less, greater] = split(node->right, key);
            if (less == node->right) return {node, nullptr};
            return {copy_with(*node, node->left, std::move(less)), std::move(greater)};
        }
        auto [less, greater] = split(node->left, key);
        if (greater == node->left) return {nullptr, node};
        return {std::move(less), copy_with(*node, std::move(greater), node->right)};
    }

    /// The union of `less` and `greater`, every key of `less` being smaller.
    static NodePtr merged(const NodePtr& less, const NodePtr& greater) {
        if (!less) return greater;
        if (!greater) return less;
        if (outranks(less->priority, less->key(), *greater)) {
            return copy_with(*less, less->left, merged(less->right, greater));
        }
        return copy_with(*greater, merged(less, greater->left), greater->right);
    }

    /// `node`'s subtree without `key`; `node` itself, uncopied, when `key` is absent.
    static NodePtr erased(const NodePtr& node, std::string_view key, bool& found) {
        if (!node) return nullptr;
        const int order = key.compare(node->key());
        if (order == 0) {
            found = true;
            return merged(node->left, node->right);
        }
        if (order < 0) {
            NodePtr left = erased(node->left, key, found);
            return found ? copy_with(*node, std::move(left), node->right) : node;
        }
        NodePtr right = erased(node->right, key, found);
        return found ? copy_with(*node, node->left, std::move(right)) : node;
    }

    template <class F>
    static void each_entry(const NodePtr& node, F& visit) {
        if (!node) return;
        each_entry(node->left, visit);
        visit(node->entry);
        each_entry(node->right, visit);
    }

    /// The tree's root holds the highest-ranked key of its set, so when two roots differ, the
    /// higher-ranked one is absent from the other tree, which is split at it; equal roots
    /// recurse side by side. Subtrees both share end the walk at once.
    template <class F>
    static void diff_nodes(const NodePtr& before, const NodePtr& after, F& on_change) {
        if (before == after) return;
        if (!before || !after) {
            auto report = [&](const value_type& entry) {
                on_change(entry.first, before ? &entry.second : nullptr,
                          before ? nullptr : &entry.second);
            };
            each_entry(before ? before : after, report);
            return;
        }
        if (before->key() == after->key()) {
            diff_nodes(before->left, after->left, on_change);
            if (!(before->entry.second == after->entry.second))
                on_change(before->key(), &before->entry.second, &after->entry.second);
            diff_nodes(before->right, after->right, on_change);
        } else if (outranks(before->priority, before->key(), *after)) {
            const auto [less, greater] = split(after, before->key());
            diff_nodes(before->left, less, on_change);
            on_change(before->key(), &before->entry.second, nullptr);
            diff_nodes(before->right, greater, on_change);
        } else {
            const auto [less, greater] = split(before, after->key());
            diff_nodes(less, after->left, on_change);
            on_change(after->key(), nullptr, &after->entry.second);
            diff_nodes(greater, after->right, on_change);
        }
    }

    /// Equal contents give equal shapes (the shape is canonical), so a node for node walk
    /// decides, and a subtree both sides share is equal without a look.
    static bool same_entries(const Node* a, const Node* b) {
        if (a == b) return true;
        if (a == nullptr || b == nullptr) return false;
        return a->key() == b->key() && a->entry.second == b->entry.second &&
               same_entries(a->left.get(), b->left.get()) &&
               same_entries(a->right.get(), b->right.get());
    }

    NodePtr root_;
    std::size_t size_ = 0;  ///< kept, so size() is O(1)
};

}  // namespace tg::config

#include "config/diagnostics.hpp"

#include <algorithm>
#include <tuple>

namespace tg::config::detail {
namespace {

bool is_under(std::string_view path, std::string_view prefix) {
    if (!path.starts_with(prefix)) return false;
    if (path.size() == prefix.size()) return true;
    const char next = path[prefix.size()];
    return next == '.' || next == '[';
}

void sort_by_position(std::vector<ConfigError>& list) {
    std::stable_sort(list.begin(), list.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
}

}  // namespace

std::string in_quotes(std::string_view text) {
    // Appended piece by piece: GCC 12 flags `"\"" + std::string` with a false -Wrestrict.
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted.append(1, '"').append(text).append(1, '"');
    return quoted;
}

void Diagnostics::remember(const std::string& path, const YAML::Mark& mark) {
    positions_.insert_or_assign(path, mark);
}

bool Diagnostics::present(std::string_view path) const {
    return positions_.find(path) != positions_.end();
}

YAML::Mark Diagnostics::position(std::string_view path) const {
    const auto it = positions_.find(path);
    return it == positions_.end() ? YAML::Mark::null_mark() : it->second;
}

void Diagnostics::error(const YAML::Mark& mark, std::string path, std::string message) {
    errors_.push_back(make(mark, std::move(path), std::move(message)));
}

void Diagnostics::error(std::string path, std::string message) {
    const auto mark = position(path);
    error(mark, std::move(path), std::move(message));
}

void Diagnostics::warning(std::string path, std::string message) {
    const auto mark = position(path);
    warnings_.push_back(make(mark, std::move(path), std::move(message)));
}

bool Diagnostics::failed(std::string_view path) const {
    return std::any_of(errors_.begin(), errors_.end(),
                       [&](const ConfigError& e) { return is_under(e.path, path); });
}

std::vector<ConfigError> Diagnostics::take_errors() {
    sort_by_position(errors_);
    return std::move(errors_);
}

std::vector<std::string> Diagnostics::take_warnings() {
    sort_by_position(warnings_);
    std::vector<std::string> out;
    out.reserve(warnings_.size());
    for (const auto& w : warnings_) out.push_back(w.to_string());
    return out;
}

ConfigError Diagnostics::make(const YAML::Mark& mark, std::string path, std::string message) const {
    ConfigError e;
    e.file = file_;
    if (!mark.is_null()) {
        // yaml-cpp counts from 0; editors and compilers count from 1.
        e.line = mark.line + 1;
        e.column = mark.column + 1;
    }
    e.path = std::move(path);
    e.message = std::move(message);
    return e;
}

}  // namespace tg::config::detail

#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "proxy/observe/json_text.hpp"

/// Operational log: one JSON object per line on stderr ({"time","level","msg",...}). Used for
/// start-up, reloads and failures, never per request (the access log is for that).
namespace tg::proxy::ops_log {

/// A field of a log line; numbers are passed as their decimal text with `raw` set.
struct Field {
    std::string_view key;
    std::string_view value;
    bool raw = false;
};

/// Writes one line; `errors_json`, when given, is a JSON array appended as "errors".
void write_line(std::string_view level, std::string_view msg, std::initializer_list<Field> fields,
                const std::string* errors_json);

inline void info(std::string_view msg, std::initializer_list<Field> fields = {}) {
    write_line("info", msg, fields, nullptr);
}
inline void warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
    write_line("warn", msg, fields, nullptr);
}
inline void error(std::string_view msg, std::initializer_list<Field> fields = {}) {
    write_line("error", msg, fields, nullptr);
}

/// Writes `msg` with an "errors" array of strings, e.g. every problem of a rejected config.
template <class Range>
void error_list(std::string_view msg, const Range& errors,
                std::initializer_list<Field> fields = {}) {
    std::string array = "[";
    for (const auto& e : errors) {
        if (array.size() > 1) array.push_back(',');
        append_json_string(array, e);
    }
    array.push_back(']');
    write_line("error", msg, fields, &array);
}

}  // namespace tg::proxy::ops_log

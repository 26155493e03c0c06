#include "proxy/observe/ops_log.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "proxy/observe/json_text.hpp"

namespace tg::proxy::ops_log {

void write_line(std::string_view level, std::string_view msg, std::initializer_list<Field> fields,
                const std::string* errors_json) {
    std::string line = "{\"time\":\"";
    append_rfc3339(line, std::chrono::system_clock::now());
    line.append("\",\"level\":");
    append_json_string(line, level);
    line.append(",\"msg\":");
    append_json_string(line, msg);
    for (const auto& f : fields) {
        line.push_back(',');
        append_json_string(line, f.key);
        line.push_back(':');
        if (f.raw)
            line.append(f.value);
        else
            append_json_string(line, f.value);
    }
    if (errors_json) line.append(",\"errors\":").append(*errors_json);
    line.append("}\n");
    // Lines from several threads must not interleave; this is never on the request path.
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace tg::proxy::ops_log

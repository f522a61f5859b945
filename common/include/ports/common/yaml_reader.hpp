// The checks every YAML file the engine reads needs, written once for the engine's config
// (engine/config.cpp) and rules files (pipelines/rules/rules.cpp): a mapping of known keys
// only, a string, an integer in range; each failure names its file and line. Setup code: it
// allocates and throws, through the reader's own fail() (its own exception type and prefix).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ports::yaml_reader {

// "FILE:LINE: ", the prefix of every message about a place in a file.
inline std::string where(const std::string& file, int line) {
    return file + ":" + std::to_string(line) + ": ";
}

// A node's line, 1-based (0 when yaml-cpp has no mark for it).
inline int line_of(const YAML::Node& n) {
    return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

// The checks, for a reader that derives from checks<itself> and has
//   [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const;
template <class Reader>
class checks {
  public:
    // `map` must be a mapping whose keys are all in `allowed`; `what` names it in messages.
    void only_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                   const std::string& what) const {
        if (!map.IsMap()) {
            fail_at(map, what + " must be a mapping");
        }
        for (const auto& kv : map) {
            const std::string key = kv.first.as<std::string>();
            bool known = false;
            for (auto a : allowed) {
                known = known || key == a;
            }
            if (!known) {
                std::string list;
                for (auto a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                fail_at(kv.first,
                        "unknown key '" + key + "' in " + what + " (known: " + list + ")");
            }
        }
    }

    std::string string_of(const YAML::Node& n, const std::string& key) const {
        if (!n.IsScalar()) {
            fail_at(n, "'" + key + "' must be a string");
        }
        return n.Scalar();
    }

    // An integer in [lo, hi] (decimal, 0x hex or 0 octal, as strtoll reads them).
    long long integer_of(const YAML::Node& n, const std::string& key, long long lo,
                         long long hi) const {
        if (!n.IsScalar()) {
            fail_at(n, "'" + key + "' must be an integer");
        }
        const std::string& s = n.Scalar();
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(s, &used, 0);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != s.size()) {
            fail_at(n, "'" + key + "' must be an integer, not '" + s + "'");
        }
        if (v < lo || v > hi) {
            fail_at(n, "'" + key + "' = " + s + " is out of range [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
        }
        return v;
    }

    // An integer in [0, hi], up to 2^64 - 1 (values a packet field holds).
    std::uint64_t unsigned_of(const YAML::Node& n, const std::string& key, std::uint64_t hi) const {
        if (!n.IsScalar()) {
            fail_at(n, "'" + key + "' must be an integer");
        }
        const std::string& s = n.Scalar();
        std::size_t used = 0;
        unsigned long long v = 0;
        try {
            v = std::stoull(s, &used, 0);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != s.size() || s.starts_with("-")) {
            fail_at(n, "'" + key + "' must be a non-negative integer, not '" + s + "'");
        }
        if (v > hi) {
            fail_at(n, "'" + key + "' = " + s + " is out of range [0, " + std::to_string(hi) + "]");
        }
        return v;
    }

  private:
    [[noreturn]] void fail_at(const YAML::Node& at, const std::string& message) const {
        static_cast<const Reader&>(*this).fail(at, message);
    }
};

}  // namespace ports::yaml_reader

#include "check_config.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "ports/common/yaml_reader.hpp"
#include "ports/ntp/symmetric_keys.hpp"
#include "ports/nts/aes_siv.hpp"
#include "ports/nts/keys.hpp"
#include "ports/rules/rules.hpp"

namespace ports::engine {

namespace {

[[noreturn]] void fail(const engine_config& cfg, int line, const std::string& message) {
    throw config_error(yaml_reader::where(cfg.file, line) + message);
}

// A PEM file the NTS-KE server will open at start: readable now (its contents are OpenSSL's
// to judge at start; an unreadable path is the common mistake).
void check_readable(const engine_config& cfg, int line, const std::string& what,
                    const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        fail(cfg, line,
             fmt::format("ntp.nts {} {}: cannot read: {}", what, path, std::strerror(errno)));
    }
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

engine_config check_config(const std::string& path) {
    engine_config cfg = load_config(path);
    // What a start checks before EAL (the files the config names exist, the rules parse),
    // then what a start finds later: the keys load, the rules compile.
    check_config_files(cfg);
    const ntp_config& ntp = cfg.ntp;
    if (ntp.enabled && !ntp.keys_path.empty()) {
        // The same loader (and messages) as ntp_service at start.
        try {
            (void)ntp::load_key_file(ntp.keys_path);
        } catch (const std::exception& e) {
            fail(cfg, ntp.keys_line, std::string("ntp keys: ") + e.what());
        }
    }
    if (ntp.enabled && ntp.nts.enabled) {
        const nts_config& nts = ntp.nts;
        if (!nts::aes_siv_supported()) {
            fail(cfg, nts.line, "ntp.nts: this CPU has no AES-NI, which the NTS fast path needs");
        }
        check_readable(cfg, nts.line, "certificate", nts.certificate);
        check_readable(cfg, nts.line, "key", nts.key);
        if (!nts.key_file.empty() && exists(nts.key_file)) {
            try {
                (void)nts::load_key_file(nts.key_file);
            } catch (const std::exception& e) {
                fail(cfg, nts.line, std::string("ntp.nts key_file: ") + e.what());
            }
        } else if (!nts.key_file.empty() && nts.rotate_interval_s == 0) {
            fail(cfg, nts.line,
                 fmt::format("ntp.nts key_file {} does not exist, and with rotate_interval: 0 "
                             "this engine does not make keys",
                             nts.key_file));
        }
    }
    if (!cfg.rules_path.empty()) {
        // Parsed and compiled as a start (or a reload) does: a pattern Hyperscan refuses only
        // together with the others is found here too.
        try {
            rules::slot_map slots;
            (void)rules::rule_set::compile(rules::load_rule_file(cfg.rules_path), slots);
        } catch (const std::exception& e) {
            fail(cfg, cfg.rules_line, std::string("rules: ") + e.what());
        }
    }
    return cfg;
}

std::vector<std::string> pci_devices(const engine_config& cfg) {
    std::vector<std::string> out;
    for (const auto& p : cfg.ports) {
        std::string name = p.device.substr(0, p.device.find(','));
        if (!is_pci_address(name)) {
            continue;
        }
        if (name.size() == 7) {  // bus:device.function: domain 0, as the kernel names it
            name = "0000:" + name;
        }
        for (char& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out.push_back(name);
    }
    return out;
}

std::string check_summary(const engine_config& cfg) {
    std::string s = fmt::format("{}: ok: {} port(s) ({} PCI)", cfg.file, cfg.ports.size(),
                                pci_devices(cfg).size());
    if (cfg.ports.empty()) {
        s += " (none listed: every port EAL probes is used)";
    }
    if (cfg.ntp.enabled) {
        s += cfg.ntp.nts.enabled ? ", ntp with nts" : ", ntp";
    }
    if (cfg.snmp.enabled) {
        s += ", snmp";
    }
    if (!cfg.rules_path.empty()) {
        s += ", rules " + cfg.rules_path;
    }
    return s;
}

}  // namespace ports::engine

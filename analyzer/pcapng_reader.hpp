// A reader of pcapng blocks for what libpcap 1.10 refuses: files whose interfaces differ in
// snapshot length or link type ("an interface has a snapshot length ... different from ...").
// ports-analyze reads through libpcap and falls back to this reader only then, so no frame of
// such a file is lost. Reads SHB, IDB, EPB, SPB and the obsolete PB; skips every other block.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace ports::analyzer {

class pcapng_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class pcapng_reader {
  public:
    struct record {
        int linktype;
        std::span<const std::uint8_t> bytes;  // valid until the next call
    };

    explicit pcapng_reader(const std::string& path);

    // The next packet, or nothing at the end of the file. Throws pcapng_error on a bad block.
    std::optional<record> next();

    static bool is_pcapng(const std::string& path);

  private:
    bool read_block();
    std::uint32_t u32(std::size_t at) const;
    std::uint16_t u16(std::size_t at) const;

    std::string path_;
    std::ifstream in_;
    bool swap_ = false;
    std::vector<int> linktypes_;  // of the current section's interfaces
    std::vector<std::uint8_t> block_;
    std::uint32_t type_ = 0;
};

}  // namespace ports::analyzer

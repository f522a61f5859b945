#include "pcapng_reader.hpp"

#include <algorithm>

namespace ports::analyzer {

namespace {

constexpr std::uint32_t block_shb = 0x0A0D0D0A;
constexpr std::uint32_t block_idb = 1;
constexpr std::uint32_t block_pb = 2;  // obsolete Packet Block
constexpr std::uint32_t block_spb = 3;
constexpr std::uint32_t block_epb = 6;
constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;
constexpr std::uint32_t max_block = 64 * 1024 * 1024;

std::uint32_t host_u32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

bool pcapng_reader::is_pcapng(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::uint8_t magic[4] = {};
    f.read(reinterpret_cast<char*>(magic), 4);
    return f && host_u32(magic) == block_shb;
}

pcapng_reader::pcapng_reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    if (!in_) {
        throw pcapng_error(path + ": cannot open");
    }
}

std::uint32_t pcapng_reader::u32(std::size_t at) const {
    const std::uint32_t v = host_u32(block_.data() + at);
    return swap_ ? __builtin_bswap32(v) : v;
}

std::uint16_t pcapng_reader::u16(std::size_t at) const {
    const auto v = static_cast<std::uint16_t>(block_[at] | block_[at + 1] << 8);
    return swap_ ? static_cast<std::uint16_t>(__builtin_bswap16(v)) : v;
}

// Reads one whole block into block_ (type, length, body, trailing length).
bool pcapng_reader::read_block() {
    std::uint8_t head[12] = {};
    in_.read(reinterpret_cast<char*>(head), 8);
    if (in_.gcount() == 0) {
        return false;
    }
    if (in_.gcount() != 8) {
        throw pcapng_error(path_ + ": truncated block header");
    }
    std::uint32_t type = host_u32(head);
    if (type == block_shb) {
        // The byte order is known only from the section header's own magic.
        in_.read(reinterpret_cast<char*>(head + 8), 4);
        const std::uint32_t magic = host_u32(head + 8);
        if (magic == byte_order_magic) {
            swap_ = false;
        } else if (magic == __builtin_bswap32(byte_order_magic)) {
            swap_ = true;
        } else {
            throw pcapng_error(path_ + ": bad section byte-order magic");
        }
        linktypes_.clear();
    } else if (swap_) {
        type = __builtin_bswap32(type);
    }
    std::uint32_t length = host_u32(head + 4);
    if (swap_) {
        length = __builtin_bswap32(length);
    }
    if (length < 12 || length % 4 != 0 || length > max_block) {
        throw pcapng_error(path_ + ": bad block length " + std::to_string(length));
    }
    block_.resize(length);
    std::copy(head, head + 8, block_.begin());
    const std::size_t have = type == block_shb ? 12 : 8;
    if (type == block_shb) {
        std::copy(head + 8, head + 12, block_.begin() + 8);
    }
    in_.read(reinterpret_cast<char*>(block_.data() + have), length - have);
    if (static_cast<std::size_t>(in_.gcount()) != length - have) {
        throw pcapng_error(path_ + ": truncated block");
    }
    if (u32(length - 4) != length) {
        throw pcapng_error(path_ + ": block lengths disagree");
    }
    type_ = type;
    return true;
}

std::optional<pcapng_reader::record> pcapng_reader::next() {
    while (read_block()) {
        const std::size_t length = block_.size();
        switch (type_) {
            case block_idb: {
                if (length < 20) {
                    throw pcapng_error(path_ + ": short interface block");
                }
                linktypes_.push_back(u16(8));
                break;
            }
            case block_epb:
            case block_pb: {
                if (length < 32) {
                    throw pcapng_error(path_ + ": short packet block");
                }
                const std::uint32_t iface = type_ == block_epb ? u32(8) : u16(8);
                const std::uint32_t caplen = u32(20);
                if (iface >= linktypes_.size() || caplen > length - 32) {
                    throw pcapng_error(path_ + ": packet block with a bad interface or length");
                }
                return record{linktypes_[iface], {block_.data() + 28, caplen}};
            }
            case block_spb: {
                if (length < 16 || linktypes_.empty()) {
                    throw pcapng_error(path_ + ": bad simple packet block");
                }
                const std::uint32_t caplen =
                    std::min<std::uint32_t>(u32(8), static_cast<std::uint32_t>(length - 16));
                return record{linktypes_[0], {block_.data() + 12, caplen}};
            }
            default:
                break;
        }
    }
    return std::nullopt;
}

}  // namespace ports::analyzer

// ports-analyze: the engine's parse + classify + count over pcap/pcapng files, offline.
// Parallel with oneTBB: read (serial, in order) -> classify (parallel) -> merge (serial, in
// order), so per-packet output keeps capture order and counters match a single-threaded run.

#include <pcap/pcap.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pcapng_reader.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/rules.hpp"
#include "ports/telemetry/stats_json.hpp"

namespace {

using namespace ports;

constexpr std::size_t batch_packets = 2048;

struct options {
    bool json = false;
    std::string per_packet_path;
    std::string rules_path;
    unsigned threads = 0;
    std::vector<std::string> captures;
};

[[noreturn]] void usage(const std::string& why) {
    if (!why.empty()) {
        std::cerr << "ports-analyze: " << why << "\n";
    }
    std::cerr
        << "usage: ports-analyze [--json] [--per-packet FILE.csv] [--threads N] [--rules FILE]\n"
           "                     CAPTURE...\n"
           "  --json            print the statistics document (as ports-engine --stats-json)\n"
           "  --per-packet F    write frame,class,valid,detail per packet (frames numbered\n"
           "                    from 1, continuing across captures)\n"
           "  --threads N       classify on N threads (default: all cores)\n"
           "  --rules FILE      apply a rules file (configs/README.md): matches per rule in\n"
           "                    the output, matched rule ids per packet in --per-packet\n"
           "exit status: 0; 1 when a capture cannot be opened, or is cut short (the records\n"
           "  read before the break are counted and printed); 2 on a usage error\n";
    std::exit(2);
}

options parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--json") {
            o.json = true;
        } else if (a == "--per-packet") {
            if (++i >= argc) {
                usage("--per-packet needs a file name");
            }
            o.per_packet_path = argv[i];
        } else if (a == "--rules") {
            if (++i >= argc) {
                usage("--rules needs a file name");
            }
            o.rules_path = argv[i];
        } else if (a == "--threads") {
            if (++i >= argc) {
                usage("--threads needs a number");
            }
            o.threads = static_cast<unsigned>(std::strtoul(argv[i], nullptr, 10));
            if (o.threads == 0) {
                usage("--threads needs a positive number");
            }
        } else if (a == "-h" || a == "--help") {
            usage("");
        } else if (a.starts_with("-")) {
            usage("unknown option '" + a + "'");
        } else {
            o.captures.push_back(a);
        }
    }
    if (o.captures.empty()) {
        usage("no capture given");
    }
    return o;
}

// Where a record's network header is: an Ethernet frame, or a network-layer packet whose
// ethertype the link type gives (0: none).
struct network_view {
    bool ethernet;
    std::uint16_t ethertype;
    parsers::byte_span bytes;
};

pipelines::classified classify_view(const network_view& v) {
    return v.ethernet ? pipelines::classify_frame_full(v.bytes)
                      : pipelines::classify_l3_full(v.ethertype, v.bytes);
}

// The link types view_record reads; a record of any other is counted as other (non-IP), and
// said so (unknown_link_type in --json, a warning per capture).
bool known_link_type(int dlt) {
    switch (dlt) {
        case DLT_EN10MB:
        case DLT_RAW:
        case DLT_IPV4:
        case DLT_IPV6:
        case DLT_NULL:
        case DLT_LOOP:
        case DLT_LINUX_SLL:
        case DLT_LINUX_SLL2:
            return true;
        default:
            return false;
    }
}

std::string link_type_name(int dlt) {
    const char* name = pcap_datalink_val_to_name(dlt);
    return name != nullptr ? std::string(name) + " (" + std::to_string(dlt) + ")"
                           : std::to_string(dlt);
}

// How a capture's link type reaches the network header.
network_view view_record(int dlt, parsers::byte_span rec) {
    const auto classify_l3 = [](std::uint16_t et, parsers::byte_span l3) {
        return network_view{false, et, l3};
    };
    switch (dlt) {
        case DLT_EN10MB:
            return network_view{true, 0, rec};
        case DLT_RAW:
        case DLT_IPV4:
        case DLT_IPV6: {
            if (rec.empty()) {
                return classify_l3(0, rec);
            }
            const std::uint16_t et =
                (rec[0] >> 4) == 6 ? parsers::ethertype_ipv6 : parsers::ethertype_ipv4;
            return classify_l3(et, rec);
        }
        case DLT_NULL:
        case DLT_LOOP: {
            if (rec.size() < 4) {
                return classify_l3(0, {});
            }
            // DLT_NULL is in the capturing host's byte order, DLT_LOOP in network order;
            // the family values are small, so either order shows in one of the end bytes.
            const std::uint32_t family = rec[0] != 0 ? rec[0] : rec[3];
            const std::uint16_t et =
                family == 2 ? parsers::ethertype_ipv4
                : (family == 10 || family == 24 || family == 28 || family == 30)
                    ? parsers::ethertype_ipv6
                    : 0;
            return classify_l3(et, rec.subspan(4));
        }
        case DLT_LINUX_SLL: {
            if (rec.size() < 16) {
                return classify_l3(0, {});
            }
            return classify_l3(parsers::load_be16(rec.data() + 14), rec.subspan(16));
        }
        case DLT_LINUX_SLL2: {
            if (rec.size() < 20) {
                return classify_l3(0, {});
            }
            return classify_l3(parsers::load_be16(rec.data()), rec.subspan(20));
        }
        default:
            return classify_l3(0, {});
    }
}

// Records of one capture file: libpcap first; where libpcap gives up on a pcapng file (mixed
// snapshot lengths or link types between interfaces), the built-in reader takes over at the
// same record, so no frame is lost.
class capture_source {
  public:
    struct record {
        int dlt;
        parsers::byte_span bytes;
    };

    explicit capture_source(const std::string& path) : path_(path) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_.reset(pcap_open_offline(path.c_str(), err));
        if (!pcap_) {
            if (!analyzer::pcapng_reader::is_pcapng(path)) {
                throw std::runtime_error(path + ": " + err);
            }
            switch_to_fallback(err);
        } else {
            dlt_ = pcap_datalink(pcap_.get());
        }
    }

    std::optional<record> next() {
        if (!fallback_) {
            pcap_pkthdr* hdr = nullptr;
            const u_char* bytes = nullptr;
            const int rc = pcap_next_ex(pcap_.get(), &hdr, &bytes);
            if (rc == 1) {
                ++records_;
                return record{dlt_, {bytes, hdr->caplen}};
            }
            if (rc != PCAP_ERROR) {
                return std::nullopt;
            }
            const std::string err = pcap_geterr(pcap_.get());
            if (!analyzer::pcapng_reader::is_pcapng(path_)) {
                throw std::runtime_error(path_ + ": " + err);
            }
            switch_to_fallback(err);
        }
        const auto r = fallback_->next();
        if (!r) {
            return std::nullopt;
        }
        ++records_;
        return record{r->linktype, r->bytes};
    }

  private:
    struct pcap_closer {
        void operator()(pcap_t* p) const { pcap_close(p); }
    };

    void switch_to_fallback(const std::string& why) {
        std::cerr << "ports-analyze: " << path_ << ": libpcap: " << why
                  << "; reading on from record " << records_ + 1
                  << " with the built-in pcapng reader\n";
        fallback_.emplace(path_);
        for (std::uint64_t i = 0; i < records_; ++i) {
            if (!fallback_->next()) {
                throw std::runtime_error(path_ + ": fewer records than libpcap read");
            }
        }
    }

    std::string path_;
    std::unique_ptr<pcap_t, pcap_closer> pcap_;
    std::optional<analyzer::pcapng_reader> fallback_;
    int dlt_ = DLT_EN10MB;
    std::uint64_t records_ = 0;
};

struct batch {
    std::uint64_t first_frame = 0;
    std::vector<std::uint8_t> data;
    std::vector<std::size_t> offsets;  // size()+1 entries
    std::vector<int> dlts;
    std::vector<pipelines::classification> results;
    pipelines::core_counters counters;
    // With --rules: matches per rule index, and the rule indexes each packet matched
    // (packet i's are match_list[match_offsets[i] .. match_offsets[i + 1]]).
    std::vector<std::uint64_t> rule_matches;
    std::vector<std::uint32_t> match_list;
    std::vector<std::size_t> match_offsets;
};

std::string detail_text(const pipelines::classification& r) {
    std::string out;
    if (r.fragment) {
        out = "fragment";
    }
    for (std::uint8_t i = 0; i < r.detail_count; ++i) {
        if (!out.empty()) {
            out += ';';
        }
        out += pipelines::counter_defs[r.detail[i]].key;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_args(argc, argv);
    // Rules: compiled once; every TBB worker thread scans with its own scratch.
    rules::slot_map slots;
    std::shared_ptr<const rules::rule_set> rule_set;
    std::optional<rules::scratch> scratch_prototype;
    if (!opt.rules_path.empty()) {
        try {
            rule_set = rules::rule_set::compile(rules::load_rule_file(opt.rules_path), slots);
        } catch (const rules::rules_error& e) {
            std::cerr << "ports-analyze: " << e.what() << "\n";
            return 1;
        }
        scratch_prototype.emplace(*rule_set);
    }
    tbb::enumerable_thread_specific<rules::scratch> scratches(
        [&] { return scratch_prototype ? scratch_prototype->clone() : rules::scratch(); });
    std::vector<std::uint64_t> rule_total(rule_set ? rule_set->size() : 0, 0);
    std::unique_ptr<tbb::global_control> limit;
    if (opt.threads > 0) {
        limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                      opt.threads);
    }
    std::ofstream csv;
    if (!opt.per_packet_path.empty()) {
        csv.open(opt.per_packet_path, std::ios::trunc);
        if (!csv) {
            std::cerr << "ports-analyze: cannot write " << opt.per_packet_path << "\n";
            return 1;
        }
        csv << (rule_set ? "frame,class,valid,detail,rules\n" : "frame,class,valid,detail\n");
    }

    pipelines::counter_snapshot total;
    std::uint64_t frame = 0;
    std::uint64_t unknown_link_type = 0;
    std::vector<std::string> cut_short;  // "PATH: why" of each capture not read to its end
    for (const auto& path : opt.captures) {
        std::optional<capture_source> source;
        try {
            source.emplace(path);
        } catch (const std::exception& e) {
            std::cerr << "ports-analyze: " << e.what() << "\n";
            return 1;
        }
        bool read_error = false;
        std::string read_error_text;
        const std::uint64_t first = frame;
        std::map<int, std::uint64_t> unknown;  // link type -> records of it
        tbb::parallel_pipeline(
            8, tbb::make_filter<void, std::shared_ptr<batch>>(
                   tbb::filter_mode::serial_in_order,
                   [&](tbb::flow_control& fc) -> std::shared_ptr<batch> {
                       auto b = std::make_shared<batch>();
                       b->first_frame = frame + 1;
                       b->offsets.push_back(0);
                       while (!read_error && b->offsets.size() <= batch_packets) {
                           std::optional<capture_source::record> rec;
                           try {
                               rec = source->next();
                           } catch (const std::exception& e) {
                               read_error_text = e.what();
                               read_error = true;
                           }
                           if (!rec) {
                               break;
                           }
                           if (!known_link_type(rec->dlt)) {
                               ++unknown[rec->dlt];
                           }
                           b->data.insert(b->data.end(), rec->bytes.begin(), rec->bytes.end());
                           b->offsets.push_back(b->data.size());
                           b->dlts.push_back(rec->dlt);
                       }
                       frame += b->offsets.size() - 1;
                       if (b->offsets.size() == 1) {
                           fc.stop();
                           return nullptr;
                       }
                       return b;
                   }) &
                   tbb::make_filter<std::shared_ptr<batch>, std::shared_ptr<batch>>(
                       tbb::filter_mode::parallel,
                       [&](std::shared_ptr<batch> b) {
                           const std::size_t n = b->offsets.size() - 1;
                           b->results.resize(n);
                           rules::scratch* scratch = rule_set ? &scratches.local() : nullptr;
                           if (rule_set) {
                               b->rule_matches.assign(rule_set->size(), 0);
                               b->match_offsets.reserve(n + 1);
                               b->match_offsets.push_back(0);
                           }
                           for (std::size_t i = 0; i < n; ++i) {
                               const parsers::byte_span rec(b->data.data() + b->offsets[i],
                                                            b->offsets[i + 1] - b->offsets[i]);
                               const network_view view = view_record(b->dlts[i], rec);
                               // One walk: the record is what the rules read.
                               const pipelines::classified c = classify_view(view);
                               b->results[i] = c.c;
                               pipelines::count(b->counters, c.c,
                                                static_cast<std::uint32_t>(rec.size()));
                               if (rule_set) {
                                   rules::match_record(*rule_set, *scratch, c.record, view.bytes,
                                                       [&](std::uint32_t r) {
                                                           ++b->rule_matches[r];
                                                           b->match_list.push_back(r);
                                                       });
                                   b->match_offsets.push_back(b->match_list.size());
                               }
                           }
                           return b;
                       }) &
                   tbb::make_filter<std::shared_ptr<batch>, void>(
                       tbb::filter_mode::serial_in_order, [&](std::shared_ptr<batch> b) {
                           total.accumulate(b->counters);
                           for (std::size_t r = 0; r < b->rule_matches.size(); ++r) {
                               rule_total[r] += b->rule_matches[r];
                           }
                           if (csv.is_open()) {
                               for (std::size_t i = 0; i < b->results.size(); ++i) {
                                   const auto& r = b->results[i];
                                   csv << (b->first_frame + i) << ','
                                       << pipelines::class_names[static_cast<std::size_t>(r.cls)]
                                       << ',' << (r.malformed ? 0 : 1) << ',' << detail_text(r);
                                   if (rule_set) {
                                       csv << ',';
                                       for (std::size_t k = b->match_offsets[i];
                                            k < b->match_offsets[i + 1]; ++k) {
                                           csv << (k == b->match_offsets[i] ? "" : ";")
                                               << rule_set->at(b->match_list[k]).id;
                                       }
                                   }
                                   csv << '\n';
                               }
                           }
                       }));
        for (const auto& [dlt, n] : unknown) {
            std::cerr << "ports-analyze: " << path << ": " << n << " record(s) of link type "
                      << link_type_name(dlt)
                      << ", which ports-analyze does not read: counted as other (non-IP)\n";
            unknown_link_type += n;
        }
        if (read_error) {
            // What was read is counted and printed; the exit status says the capture is not
            // whole.
            std::cerr << "ports-analyze: " << read_error_text << "; " << path
                      << " is cut short: the counts cover its first " << frame - first
                      << " record(s)\n";
            cut_short.push_back(read_error_text);
        }
    }
    if (opt.json) {
        auto doc = telemetry::classes_json(total);
        // What the counts stand on: records read, those of a link type not read (in other),
        // the captures not read to their end.
        doc["input"] = {
            {"frames", frame}, {"unknown_link_type", unknown_link_type}, {"cut_short", cut_short}};
        if (rule_set) {
            auto& by_id = doc["rules"] = nlohmann::ordered_json::object();
            for (std::size_t r = 0; r < rule_set->size(); ++r) {
                by_id[rule_set->at(r).id] = {{"matches", rule_total[r]}};
            }
        }
        std::cout << doc.dump(2) << "\n";
    } else {
        std::cout << telemetry::class_table(total);
        if (rule_set) {
            std::cout << "\nrule matches\n";
            for (std::size_t r = 0; r < rule_set->size(); ++r) {
                std::cout << "  " << rule_set->at(r).id << " " << rule_total[r] << "\n";
            }
        }
    }
    if (csv.is_open() && !csv.flush()) {
        std::cerr << "ports-analyze: cannot write " << opt.per_packet_path << "\n";
        return 1;
    }
    return cut_short.empty() ? 0 : 1;
}

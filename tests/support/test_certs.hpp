// A throwaway CA and server certificate for NTS tests, made when the test runs (never
// committed) with the openssl command line: EC P-256, the server's SAN naming the addresses.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ports::test {

struct test_certificates {
    std::string ca;           // ca.pem
    std::string certificate;  // server.pem (leaf, then the CA: a chain)
    std::string key;          // server.key
};

// sans: "IP:192.0.2.1", "DNS:localhost", ... Throws std::runtime_error when openssl fails.
inline test_certificates make_test_certificates(const std::filesystem::path& dir,
                                                const std::vector<std::string>& sans) {
    std::filesystem::create_directories(dir);
    const std::string d = dir.string();
    std::string san;
    for (const auto& s : sans) {
        san += (san.empty() ? "" : ",") + s;
    }
    {
        std::ofstream ext(d + "/server.ext");
        ext << "subjectAltName=" << san << "\nbasicConstraints=CA:FALSE\n"
            << "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
    }
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string cmd =
        "cd '" + d + "' && openssl req -x509" + ec +
        "-keyout ca.key -out ca.pem -days 2 -subj '/CN=ports-engine test CA' "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
        ">/dev/null 2>&1 && openssl req" + ec +
        "-keyout server.key -out server.csr -subj '/CN=ports-engine test server' >/dev/null 2>&1 "
        "&& openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out leaf.pem -days 2 -extfile server.ext >/dev/null 2>&1 && cat leaf.pem ca.pem > "
        "server.pem";
    if (std::system(cmd.c_str()) != 0) {
        throw std::runtime_error("openssl could not make the test certificates in " + d);
    }
    return {d + "/ca.pem", d + "/server.pem", d + "/server.key"};
}

}  // namespace ports::test

// nfcap: thin main. Parsing and running live in nfcap_cli; here only exceptions become one
// line on stderr and an exit status.
#include "extcap.hpp"
#include "options.hpp"
#include "run.hpp"

#include <nfcap/version.hpp>

#include <iostream>

int main(int argc, char** argv) {
    using namespace nfcap::cli;
    Options options;
    try {
        options = parse_options(std::vector<std::string>(argv, argv + argc));
    } catch (const UsageError& e) {
        std::cerr << "nfcap: " << e.what() << " (see nfcap --help)\n";
        return exit_usage;
    }
    if (options.action == Action::help) {
        std::cout << usage_text();
        return exit_ok;
    }
    if (options.action == Action::extcap) {
        return answer_extcap(options, std::cout);
    }
    if (options.action == Action::version) {
        std::cout << "nfcap " << nfcap::version << '\n';
        return exit_ok;
    }
    try {
        return run(options);
    } catch (const std::invalid_argument& e) {
        std::cerr << "nfcap: " << e.what() << '\n';
        return exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "nfcap: " << e.what() << '\n';
        return exit_error;
    }
}

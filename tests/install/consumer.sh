# shellcheck shell=bash
# A CMake project of its own that uses an installed nfcap: consumer.cpp replays a recording
# through nfcap::nfcap_io and prints what it counted. It sets no C++ standard and names none of
# nfcap's dependencies: the installed package has to supply both.
#   consumer DIR FIND_PACKAGE_ARGS    writes the project into DIR
consumer() {
    mkdir -p "$1"
    cat >"$1/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(nfcap_consumer LANGUAGES CXX)
find_package(nfcap $2)
add_executable(count_records main.cpp)
target_link_libraries(count_records PRIVATE nfcap::nfcap_io)
EOF
    cp "$(dirname "${BASH_SOURCE[0]}")/consumer.cpp" "$1/main.cpp"
}

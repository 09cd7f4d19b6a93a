#pragma once
// Replays a recording (pcap or pcapng, either byte order) record by record, every record whole
// whatever the file's snaplen says (see <nfcap/recording_reader.hpp>).

#include <nfcap/packet.hpp>
#include <nfcap/pcapng.hpp>
#include <nfcap/recording_reader.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace nfcap {

// A ByteStream over a file descriptor, read front to back (a pipe works: nothing seeks), for a
// RecordingReader. Read errors throw std::system_error; EINTR is retried.
class FileStream final : public ByteStream {
  public:
    // Opens `path` ("-": standard input, which it leaves open). Throws std::system_error
    // naming the path.
    explicit FileStream(const std::string& path);
    // Reads `fd`, which it owns and closes.
    explicit FileStream(int fd) : fd_(fd), owned_(true) {}
    ~FileStream() override;
    FileStream(const FileStream&) = delete;
    FileStream& operator=(const FileStream&) = delete;

    std::size_t read(std::span<std::byte> into) override;

  private:
    int fd_;
    bool owned_;
};

struct ReplayRecord {
    std::uint64_t number = 0;             // 1-based position in the file
    std::span<const std::byte> data;      // valid until the next call to next()
    std::uint32_t original_length = 0;    // as the file recorded it; above data.size(): cut
    Timestamp time;                       // the recording's own timestamp for the record
    LinkType link_type = LinkType::nflog; // the record's interface's (NFLOG or NETLINK)
};

class ReplaySource {
  public:
    // Opens `path` ("-" for standard input; a pipe works: nothing seeks) and reads the file's
    // header. Throws std::runtime_error naming the file and the problem, including a file that
    // is no recording and a link type nfcap cannot replay.
    explicit ReplaySource(const std::string& path);
    ~ReplaySource();
    ReplaySource(const ReplaySource&) = delete;
    ReplaySource& operator=(const ReplaySource&) = delete;

    LinkType link_type() const { return link_type_; }

    // The next record, or false at the end of the file. A damaged file (a record cut short by
    // the end of the file, block lengths that disagree, a record on an interface of a link
    // type nfcap cannot replay) ends the replay: next() returns false and error() says why,
    // naming the record. A record the file itself marks as cut (captured length below the
    // original length) is no damage: it comes back with both lengths.
    bool next(ReplayRecord& record);
    const std::string& error() const { return error_; }
    const std::string& path() const { return path_; }

  private:
    struct Handle;
    std::unique_ptr<Handle> handle_;
    LinkType link_type_ = LinkType::nflog;
    std::uint64_t count_ = 0;
    std::string error_;
    std::string path_;
};

} // namespace nfcap

namespace nfcap {

class Recorder;

// The first and last record times a replay saw: the ISB's start and end for the new file.
struct ReplaySpan {
    Timestamp first;
    Timestamp last;
};

// Feeds every record of `source` into `recorder` until the end of the file, a damaged file
// (counted as malformed, with a warning naming the record), the recorder's packet limit, a failed
// output (Recorder::output_failed), or `stop()` returning true. Flushes what it encoded; does
// not write the statistics blocks.
ReplaySpan replay_into(ReplaySource& source, Recorder& recorder, bool (*stop)());

} // namespace nfcap

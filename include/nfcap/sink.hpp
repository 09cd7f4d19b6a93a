#pragma once
// Where encoded pcapng goes. Sinks own their file descriptor, retry EINTR, loop on short
// writes, and turn EPIPE into ReaderGone. Destructors never throw.

#include <nfcap/pcapng.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nfcap {

// The reader of a pipe or FIFO went away (EPIPE): a clean end of the capture, not a failure.
class ReaderGone : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The output failed for good: a full disk, an I/O error, or a reader that took nothing while
// nfcap was asked to stop. what() is one line naming the output and the reason.
class WriteError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class SinkKind { file, stream }; // stream: pipe, FIFO, socket or terminal

// How output files are made. Files nfcap creates get exactly `mode` (the umask does not apply)
// and, when `owner` is set, that owner (for -Z: the files opened before the switch belong to the
// user the capture then runs as, like those it creates later). A file that already exists is
// truncated and keeps its mode and owner.
struct OutputFileOptions {
    struct Owner {
        std::uint32_t uid = 0;
        std::uint32_t gid = 0;
    };
    unsigned mode = 0600;
    std::optional<Owner> owner;
};

// Opens `path` for writing as safely as the kernel allows, without races (everything is decided
// on the opened descriptor, through the directory's descriptor):
// - a new file is created with O_EXCL, so nothing that appears meanwhile is followed;
// - an existing regular file is truncated only after fstat shows it is one;
// - a FIFO is opened (blocking until a reader arrives); its kind is reported in `fifo`;
// - anything else (directory, device, socket) is refused, nothing written;
// - in a world-writable sticky directory such as /tmp, a symbolic link as the last component
//   is never followed, and a file of another user is not reused (the checks the kernel's
//   protected_symlinks and protected_regular make, whatever the sysctls say).
// Returns the descriptor (O_CLOEXEC). Throws std::runtime_error naming the file and the reason,
// std::system_error for other failures.
int open_output_file(const std::string& path, const OutputFileOptions& options, bool* fifo);

class Sink {
  public:
    virtual ~Sink() = default;
    // Writes all of `bytes`, which the caller makes whole units (pcapng blocks, text lines).
    // Throws ReaderGone on EPIPE and WriteError otherwise. A regular file that fails part-way
    // is cut back to where this call began, so it ends with the last unit written whole (and
    // the space taken by the partial unit is freed).
    virtual void write(std::span<const std::byte> bytes) = 0;
    // For writes that may wait for a reader (pipes and FIFOs, which are written non-blocking):
    // `give_up` is asked about every 100 ms while a write waits. Once it has said true, the
    // write throws WriteError when the reader has taken nothing for 0.5 s, or at the latest
    // 1.5 s later, so a stalled reader cannot keep nfcap from stopping. Without it, a write
    // waits for as long as the reader does not read.
    virtual void set_give_up(std::function<bool()> /*give_up*/) {}
    virtual SinkKind kind() const = 0;
    virtual const std::string& name() const = 0;
    // Closes the current file and opens the next one of a ring; false when this sink has no
    // next file (everything but RotatingFileSink).
    virtual bool rotate() { return false; }
    // After ReaderGone: opens the output again if a new reader is there (never blocks). False
    // when nobody reads yet, or this sink cannot reconnect (only FIFOs can).
    virtual bool reconnect() { return false; }
    // Whether the reader of a pipe, FIFO, socket or terminal is gone, seen without writing
    // (poll: the write end reports an error or hang-up), so that an idle capture notices a
    // closed reader (Wireshark's stop button, an ssh channel closed) at once rather than at
    // its next record. Files have no reader: false.
    virtual bool reader_gone() const { return false; }
};

// A sink over a file descriptor it owns (or borrows, for stdout). A pipe or FIFO is switched
// to non-blocking writes (a borrowed one gets its flags back when the sink goes), so that a
// write waiting for its reader can give up (see set_give_up).
class FdSink final : public Sink {
  public:
    enum class Ownership { owned, borrowed };
    FdSink(int fd, std::string name, SinkKind kind, Ownership ownership);
    // A sink on a FIFO that can be opened again for the next reader.
    FdSink(int fd, std::string name, std::string fifo_path);
    ~FdSink() override;
    FdSink(const FdSink&) = delete;
    FdSink& operator=(const FdSink&) = delete;

    void write(std::span<const std::byte> bytes) override;
    void set_give_up(std::function<bool()> give_up) override { give_up_ = std::move(give_up); }
    SinkKind kind() const override { return kind_; }
    const std::string& name() const override { return name_; }
    bool reconnect() override;
    bool reader_gone() const override;

  private:
    void make_non_blocking();
    // A write found the pipe full: waits up to 100 ms for room, or throws WriteError when
    // give_up_ has said stop and the reader is not reading (see Sink::set_give_up).
    void wait_for_reader(std::chrono::steady_clock::time_point progress,
                         std::optional<std::chrono::steady_clock::time_point>& stop_seen);
    [[noreturn]] void fail(int error, std::size_t written_now);

    int fd_;
    std::string name_;
    SinkKind kind_;
    Ownership ownership_;
    std::string fifo_path_; // empty: no reconnecting
    // A borrowed pipe's file status flags before it was made non-blocking; -1: none to restore.
    int restore_flags_ = -1;
    std::function<bool()> give_up_;
};

// Collects everything in memory (tests, embedding).
class MemorySink final : public Sink {
  public:
    void write(std::span<const std::byte> bytes) override {
        data.insert(data.end(), bytes.begin(), bytes.end());
    }
    SinkKind kind() const override { return SinkKind::file; }
    const std::string& name() const override { return name_; }
    ByteBuffer data;

  private:
    std::string name_ = "memory";
};

// A ring of files in dumpcap's manner: `out.pcapng` becomes out_00001_20261123120000.pcapng,
// out_00002_..., each created when the previous one is done; with `max_files` > 0 the oldest
// is removed once that many exist.
class RotatingFileSink final : public Sink {
  public:
    RotatingFileSink(std::string base, unsigned max_files, OutputFileOptions options = {});
    ~RotatingFileSink() override;
    RotatingFileSink(const RotatingFileSink&) = delete;
    RotatingFileSink& operator=(const RotatingFileSink&) = delete;

    void write(std::span<const std::byte> bytes) override;
    SinkKind kind() const override { return SinkKind::file; }
    const std::string& name() const override { return current_; }
    bool rotate() override;
    const std::vector<std::string>& files() const { return files_; } // those kept, oldest first

  private:
    void open_next();
    std::string base_;
    unsigned max_files_;
    OutputFileOptions options_;
    unsigned number_ = 0;
    int fd_ = -1;
    std::string current_;
    std::vector<std::string> files_;
};

// Opens the output named on the command line: "-" is standard output (refused when it is a
// terminal, unless `text` output is meant for one), a FIFO is opened for writing (blocking
// until a reader opens it, as dumpcap does), a regular file is created or truncated as
// open_output_file says, anything else is refused. Throws std::runtime_error with a one-line
// reason.
std::unique_ptr<Sink> open_output(const std::string& path, bool text = false,
                                  const OutputFileOptions& options = {});

} // namespace nfcap

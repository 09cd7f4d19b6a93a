#pragma once
// Where encoded pcapng goes. Sinks own their file descriptor, retry EINTR, loop on short
// writes, and turn EPIPE into ReaderGone. Destructors never throw.

#include <nfcap/pcapng.hpp>

#include <cstddef>
#include <cstdint>
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
    // Writes all of `bytes` (blocking). Throws ReaderGone on EPIPE, std::system_error otherwise.
    virtual void write(std::span<const std::byte> bytes) = 0;
    virtual SinkKind kind() const = 0;
    virtual const std::string& name() const = 0;
    // Closes the current file and opens the next one of a ring; false when this sink has no
    // next file (everything but RotatingFileSink).
    virtual bool rotate() { return false; }
    // After ReaderGone: opens the output again if a new reader is there (never blocks). False
    // when nobody reads yet, or this sink cannot reconnect (only FIFOs can).
    virtual bool reconnect() { return false; }
};

// A sink over a file descriptor it owns (or borrows, for stdout).
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
    SinkKind kind() const override { return kind_; }
    const std::string& name() const override { return name_; }
    bool reconnect() override;

  private:
    int fd_;
    std::string name_;
    SinkKind kind_;
    Ownership ownership_;
    std::string fifo_path_; // empty: no reconnecting
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

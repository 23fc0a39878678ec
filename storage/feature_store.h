// The feature store: CLIP image features extracted once, one HDF5 file per backbone (DESIGN §3).
//
//   /                      attrs format="promptgrid-features", format_version, backbone, embed_dim
//   /<dataset>             classnames [C] strings; attrs template, num_classes, and for a test-only
//                          dataset that shifts another's images (imagenet_sketch) optionally source
//                          (its classes are the source's, or a subset of them, matched by name)
//   /<dataset>/<split>     features [N, D] float16|float32 (chunked), labels [N] int32, paths [N] strings
//   /<dataset>/train/views optional [V, N, D]: V augmented views per training image
//   /<dataset>/<split>/skipped_rows, skipped_paths, skipped_reasons
//                          optional [M]: images of the split file that could not be read (extraction
//                          with --skip-bad). They have no row in the split: training and evaluation
//                          never see them; the row is the image's index in the split file.
//
// This is the only code that touches HDF5 besides prompt_store. Readers validate every shape, dtype
// and attribute and name the file and object in each error; no malformed file may crash them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pg::storage {

enum class FeatureDtype { float16, float32 };
// "float16" | "float32", as DatasetSummary::dtype spells it.
std::string dtype_name(FeatureDtype dtype);

// create: a new store at a path where there is none yet. replace: a new store that replaces whatever
// is at the path once published (for outputs a command owns, such as `synth --force`). append: add datasets to an existing store,
// which must have the same backbone and embed_dim. Either way the writer works on a temporary file
// (for append, a copy of the store) and close() publishes it, so a failure or a crash at any point
// leaves the path as it was: no store, or the old store without the new dataset. One writer per path
// at a time (a lock file beside it); temporary files left by killed writers are removed.
enum class WriteMode { create, replace, append };

// An image of the split file left out of a split because it could not be read.
struct SkippedImage {
  int64_t split_row = 0;  // its index in the split file's list for this split
  std::string path;       // as in the split file
  std::string reason;     // why it could not be read
};

// One split of one dataset, in split-file order. Features are float32 in memory, row-major.
struct SplitFeatures {
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> features;  // [rows, dim]
  std::vector<int32_t> labels;  // [rows], each in [0, num_classes)
  std::vector<std::string> paths;
  int64_t num_views = 0;        // 0 when there are no augmented views
  std::vector<float> views;     // [num_views, rows, dim]
  std::vector<SkippedImage> skipped;  // in split-file order; empty when every image was read
};

// Consecutive rows of one split, as for_each_chunk hands them out.
struct SplitChunk {
  int64_t first_row = 0;
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> features;  // [rows, dim]
  std::vector<int32_t> labels;  // [rows]
};

struct DatasetFeatures {
  std::string name;
  std::vector<std::string> classnames;
  std::string prompt_template;  // with "{}" for the class name
  std::string source;           // a test-only dataset's source dataset ("imagenet"), or empty
  std::map<std::string, SplitFeatures> splits;  // "train", "val", "test"
};

struct DatasetSummary {
  std::string name;
  int64_t num_classes = 0;
  std::string prompt_template;
  std::map<std::string, int64_t> split_rows;  // split -> N
  int64_t train_views = 0;
  std::map<std::string, int64_t> split_skipped;  // split -> images left out (only splits that have some)
  std::string dtype;  // "float16" | "float32"
  std::string source;  // see DatasetFeatures::source
};

class FeatureStoreWriter {
 public:
  // Creates `path` (written under a temporary name, renamed into place by close()), or with
  // WriteMode::append opens the existing store read-write after checking backbone and embed_dim.
  FeatureStoreWriter(const std::string& path, const std::string& backbone, int64_t embed_dim,
                     FeatureDtype dtype, WriteMode mode = WriteMode::create);
  ~FeatureStoreWriter();
  // Validates shapes, label ranges, UTF-8 text, and values (finite, no all-zero row, within float16's
  // range when storing float16), then writes /<name>. A dataset can be written once.
  void write_dataset(const DatasetFeatures& dataset);
  // Flushes, closes and publishes the store. Without close() (an exception, a failed write_dataset)
  // the destructor discards everything written.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class FeatureStoreReader {
 public:
  // in_child: the whole store is first read in a child process (storage/hdf5_probe.h), so that a file
  // which crashes libhdf5 is an error rather than a crash. none: for a store this process just wrote
  // or already probed.
  enum class Probe { in_child, none };
  explicit FeatureStoreReader(const std::string& path, Probe probe = Probe::in_child);
  ~FeatureStoreReader();

  const std::string& path() const;
  const std::string& backbone() const;
  int64_t embed_dim() const;
  std::vector<std::string> datasets() const;
  DatasetSummary summary(const std::string& dataset) const;
  std::vector<std::string> classnames(const std::string& dataset) const;
  std::string prompt_template(const std::string& dataset) const;
  // Reads one split (with views when present), converted to float32. Every read checks that the file
  // holds the data the split declares, and that values are finite with no all-zero row.
  SplitFeatures read_split(const std::string& dataset, const std::string& split) const;
  std::vector<int32_t> read_labels(const std::string& dataset, const std::string& split) const;
  // Streams one split in chunks of at most `chunk_rows` rows (features and labels, checked as above),
  // so that memory stays bounded whatever the split's size.
  void for_each_chunk(const std::string& dataset, const std::string& split, int64_t chunk_rows,
                      const std::function<void(const SplitChunk&)>& visit) const;
  // Reads and checks everything of one dataset (every row, label, path and view), streaming: what
  // `features info` runs, so that it accepts exactly what training can read. A reader that probed the
  // file (Probe::in_child) has this verdict from its child already and does not read the file again.
  void validate(const std::string& dataset) const;

 private:
  struct Impl;
  struct OpenSplit;
  OpenSplit open(const std::string& dataset, const std::string& split) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg::storage

// What `features extract` computes, cut into units of work, and how a finished unit is kept.
//
// A unit is one batch of consecutive split-file rows: the images themselves (view -1) or one augmented
// view of training images. Units are fixed by the split file and the batch size alone, so whichever
// rank encodes a unit, it encodes the same batch, and one rank or N give the same bytes.
//
// Finished units are files in a work folder beside the store (<store>.extract-<dataset>/), written
// atomically, so an interrupted extraction resumes where it stopped. The folder's manifest holds the
// settings the units were computed with; other settings start the extraction over.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/files.h"
#include "sweeps/split_file.h"

namespace pg::orchestrator {

struct ExtractionUnit {
  std::string split;      // "train" | "val" | "test"
  int view = -1;          // -1: the image as the test transform gives it; v >= 0: augmented view v
  int64_t first_row = 0;  // in the split file's list for `split`
  int64_t rows = 0;
  // "train.image.000064" / "train.view2.000064": the unit's file in the work folder (plus ".chunk").
  std::string name() const;
};

// The splits' units in order (train, val, test, then each view's training units), `batch_size` rows
// each (the last of a split may be shorter).
std::vector<ExtractionUnit> plan_units(const sweeps::SplitFile& split_file, const std::vector<std::string>& splits,
                                       int views, int batch_size);

// An image of a unit that could not be read: its row within the unit and why.
struct FailedImage {
  int64_t row = 0;
  std::string reason;
};

// One finished unit: features [rows, dim] (a failed image's row is zeros) and the failures.
struct UnitResult {
  int64_t unit = 0;  // index into the plan
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> features;
  std::vector<FailedImage> failed;
  std::string settings;  // kept units: the digest of the settings they were computed with
};

// A unit's bytes, as sent from a worker rank and as kept in the work folder: one line of JSON (unit,
// rows, dim, failures, settings digest, the XXH64 of the values), then the float32 values, little-endian.
std::string encode_unit(const UnitResult& result);
// Checks everything (the header, the size, the checksum) and names `where` in its errors.
UnitResult decode_unit(const std::string& bytes, const std::string& where);

// The work folder of one extraction: the manifest and the finished units.
class ExtractionWorkFolder {
 public:
  // Opens (creating) `folder` and locks it (one extraction at a time); when its manifest differs from
  // `settings`, or is missing or unreadable, the units there are removed and the extraction starts over
  // (logged with the reason).
  ExtractionWorkFolder(std::string folder, const nlohmann::json& settings);
  const std::string& folder() const { return folder_; }
  // Whether unit `index` is finished and kept intact, with these settings and `dim` values a row. A
  // unit with failed images is never taken as finished: the images may have been fixed since, so it
  // is computed again.
  bool finished(int64_t index, const ExtractionUnit& unit, int64_t dim) const;
  void save(const ExtractionUnit& unit, UnitResult result) const;
  // A kept unit, checked against the plan (index, rows, `dim`) and the settings.
  UnitResult load(int64_t index, const ExtractionUnit& unit, int64_t dim) const;
  // Removes the folder and everything in it (after the store is published).
  void remove() const;

 private:
  std::string path_of(const std::string& name) const;
  std::string folder_;
  std::string settings_digest_;
  std::unique_ptr<FileLock> lock_;
};

}  // namespace pg::orchestrator

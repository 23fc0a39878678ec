// The HDF5 library version in use ("1.10.8"), for result records.
#pragma once

#include <string>

namespace pg::storage {

std::string hdf5_library_version();

}  // namespace pg::storage

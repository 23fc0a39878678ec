// Reading HDF5 strings (datasets and scalar attributes) so that no file can crash the reader.
//
// Variable-length strings live in HDF5's "global heap", whose reader in HDF5 1.10 trusts the object
// sizes and indices it finds there: one flipped byte makes it copy past its buffers (a segfault, or
// silent memory corruption). So promptgrid never lets HDF5 dereference them: it asks HDF5 only for
// each string's raw reference (length, heap collection address, object index) through a no-op
// datatype conversion to an opaque type, then reads the heap collections itself, checking the
// collection header, every object's extent and that each referenced object exists and has exactly the
// string's length, before copying a byte. Fixed-length strings are read by HDF5 (their size is the
// type's). Every string must be valid UTF-8. Storage-internal: only storage/ sees hdf5.h.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

namespace pg::storage {

// All strings of a string dataset of any rank (row-major). `where` prefixes errors.
std::vector<std::string> read_strings(hid_t dataset, const std::string& where);
// The one string of a string attribute (a scalar or a 1-element array).
std::string read_string_attribute_value(hid_t attribute, const std::string& name, const std::string& where);

}  // namespace pg::storage

// The text encoder's compute precision, parsed in one place: the task spec, the trainer and the
// benchmark all name it the same way ("fp32" | "fp16" | "bf16").
#pragma once

#include <string>

namespace pg {

enum class Precision { fp32, fp16, bf16 };

// `what` names the field for the error ("task field 'precision'", "--precision").
Precision parse_precision(const std::string& text, const std::string& what);
const char* to_string(Precision precision);

}  // namespace pg

#include "results/table.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

namespace pg::results {
namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

// "62.00 ± 2.00", "62.00", "62.00†", or the cell's mark.
std::string cell_text(const TableCell& cell, const std::string& plus_minus, const std::string& dagger) {
  if (!cell.mean) return cell.text;
  std::string text = number(*cell.mean);
  if (cell.std && cell.seeds > 1) text += plus_minus + number(*cell.std);
  if (cell.short_of_seeds) text += dagger;
  if (cell.mixed_inputs) text += "‡";
  return text;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string latex_escape(const std::string& text) {
  std::string escaped;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': escaped += std::string("\\") + c; break;
      case '~': escaped += "\\textasciitilde{}"; break;
      case '^': escaped += "\\textasciicircum{}"; break;
      case '\\': escaped += "\\textbackslash{}"; break;
      default: {
        // The few non-ASCII characters promptgrid itself writes; anything else passes through (UTF-8).
        static const std::pair<const char*, const char*> kSymbols[] = {
            {"–", "--"}, {"†", "\\textsuperscript{\\dag}"}, {"‡", "\\textsuperscript{\\ddag}"}, {"±", "$\\pm$"}, {"·", "$\\cdot$"}, {"✓", "$\\ast$"}};
        bool replaced = false;
        for (const auto& [symbol, latex] : kSymbols) {
          const size_t length = std::char_traits<char>::length(symbol);
          if (text.compare(i, length, symbol) == 0) {
            escaped += latex;
            i += length - 1;
            replaced = true;
            break;
          }
        }
        if (!replaced) escaped += c;
      }
    }
  }
  return escaped;
}

}  // namespace

std::string render_markdown(const Table& table) {
  std::string out = table.caption + "\n\n|";
  for (const auto& name : table.header) out += " " + name + " |";
  out += "\n|";
  for (size_t i = 0; i < table.header.size(); ++i) out += i == 0 ? " --- |" : " ---: |";
  out += "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const bool summary = r + table.summary_rows >= table.rows.size();
    out += "|";
    for (size_t c = 0; c < table.rows[r].size(); ++c) {
      std::string text = cell_text(table.rows[r][c], " ± ", "†");
      if (summary && c == 0) text = "**" + text + "**";
      out += " " + text + " |";
    }
    out += "\n";
  }
  if (!table.notes.empty()) out += "\n";
  for (const auto& note : table.notes) out += note + "\n";
  return out;
}

std::string render_csv(const Table& table) {
  const size_t keys = std::min(table.key_columns, table.header.size());
  std::string out;
  for (size_t k = 0; k < keys; ++k) out += csv_field(table.header[k]) + ",";
  out += "column,value,mean,std,seeds,short_of_seeds,mixed_inputs\n";
  for (const auto& row : table.rows) {
    std::string key;
    for (size_t k = 0; k < keys && k < row.size(); ++k) key += csv_field(row[k].text) + ",";
    for (size_t c = keys; c < row.size() && c < table.header.size(); ++c) {
      const TableCell& cell = row[c];
      out += key + csv_field(table.header[c]) + "," + csv_field(cell_text(cell, " ± ", "†")) + "," +
             (cell.mean ? number(*cell.mean) : "") + "," + (cell.std && cell.seeds > 1 ? number(*cell.std) : "") + "," +
             (cell.mean ? std::to_string(cell.seeds) : "") + "," + (cell.short_of_seeds ? "true" : "false") + "," +
             (cell.mixed_inputs ? "true" : "false") + "\n";
    }
  }
  return out;
}

std::string render_latex(const Table& table) {
  std::string columns = "l";
  for (size_t i = 1; i < table.header.size(); ++i) columns += "r";
  std::string out = "% promptgrid: \\usepackage{booktabs}\n\\begin{table}[t]\n\\centering\n\\caption{" +
                    latex_escape(table.caption) + "}\n\\begin{tabular}{" + columns + "}\n\\toprule\n";
  for (size_t c = 0; c < table.header.size(); ++c) out += (c ? " & " : "") + latex_escape(table.header[c]);
  out += " \\\\\n\\midrule\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    if (table.summary_rows > 0 && r + table.summary_rows == table.rows.size()) out += "\\midrule\n";
    for (size_t c = 0; c < table.rows[r].size(); ++c) {
      out += (c ? " & " : "") + latex_escape(cell_text(table.rows[r][c], " ± ", "†"));
    }
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  for (const auto& note : table.notes) out += "\\par\\footnotesize " + latex_escape(note) + "\n";
  out += "\\end{table}\n";
  return out;
}

}  // namespace pg::results

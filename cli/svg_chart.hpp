#pragma once

#include <string>
#include <vector>

namespace gpuorch::cli {

/// One line of a chart.
struct ChartSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

/// One panel: axes, title and lines.
struct ChartPanel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
  /// Fixed y range when set (min < max); otherwise from the data, starting at 0.
  double y_min = 0;
  double y_max = 0;
};

/// A small, self-contained SVG line chart (one or more panels stacked
/// vertically, a shared legend): no scripts, no external fonts or styles, so
/// browsers and rsvg-convert render it the same.
std::string render_svg_chart(const std::string& title, const std::vector<ChartPanel>& panels);

}  // namespace gpuorch::cli

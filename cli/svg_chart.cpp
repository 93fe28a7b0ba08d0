#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace gpuorch::cli {
namespace {

constexpr double k_width = 820;
constexpr double k_panel_height = 360;
constexpr double k_left = 70;
constexpr double k_right = 190;  // room for the legend
constexpr double k_top = 50;
constexpr double k_panel_gap = 70;
constexpr double k_bottom = 60;

// Colour-blind-safe palette (Okabe-Ito).
constexpr const char* k_colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A "nice" tick step for a range: 1, 2 or 5 times a power of ten.
double nice_step(double range, int target_ticks) {
  if (!(range > 0)) {
    return 1;
  }
  const double raw = range / target_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return nice * mag;
}

std::string tick_label(double v, double step) {
  if (step >= 1 || std::abs(v) >= 1000) {
    if (std::abs(v) >= 1e6) {
      return fmt::format("{:g}", v);
    }
    return fmt::format("{:.0f}", v);
  }
  const int digits = std::min(6, static_cast<int>(std::ceil(-std::log10(step))));
  return fmt::format("{:.{}f}", v, digits);
}

}  // namespace

std::string render_svg_chart(const std::string& title, const std::vector<ChartPanel>& panels) {
  const double plot_w = k_width - k_left - k_right;
  const double height =
      k_top + static_cast<double>(panels.size()) * (k_panel_height + k_panel_gap) + k_bottom - k_panel_gap;
  std::string svg;
  svg += R"(<?xml version="1.0" encoding="UTF-8"?>)"
         "\n";
  svg += fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" )"
      R"(font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">)"
      "\n",
      k_width, height);
  svg += fmt::format("<title>{}</title>\n", escape(title));
  svg += fmt::format(R"(<rect x="0" y="0" width="{:.0f}" height="{:.0f}" fill="#ffffff"/>)"
                     "\n",
                     k_width, height);
  svg += fmt::format(R"(<text x="{:.1f}" y="28" font-size="16" font-weight="bold">{}</text>)"
                     "\n",
                     k_left, escape(title));

  for (std::size_t p = 0; p < panels.size(); ++p) {
    const auto& panel = panels[p];
    const double top = k_top + static_cast<double>(p) * (k_panel_height + k_panel_gap) + 20;
    const double plot_h = k_panel_height - 40;
    double x_min = 0;
    double x_max = 0;
    double y_min = panel.y_min;
    double y_max = panel.y_max;
    bool first = true;
    const bool fixed_y = panel.y_max > panel.y_min;
    for (const auto& s : panel.series) {
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
          continue;
        }
        x_min = first ? s.x[i] : std::min(x_min, s.x[i]);
        x_max = first ? s.x[i] : std::max(x_max, s.x[i]);
        if (!fixed_y) {
          y_max = first ? std::max(0.0, s.y[i]) : std::max(y_max, s.y[i]);
        }
        first = false;
      }
    }
    if (!fixed_y) {
      y_min = 0;
    }
    if (!(x_max > x_min)) {
      x_max = x_min + 1;
    }
    const double y_step = nice_step(y_max > y_min ? y_max - y_min : 1, 6);
    if (!fixed_y) {
      y_max = y_min + std::ceil((y_max > y_min ? y_max - y_min : 1) / y_step) * y_step;
    }
    const double x_step = nice_step(x_max - x_min, 8);
    const auto sx = [&](double x) { return k_left + (x - x_min) / (x_max - x_min) * plot_w; };
    const auto sy = [&](double y) { return top + plot_h - (y - y_min) / (y_max - y_min) * plot_h; };

    svg += fmt::format(R"(<g class="panel"><text x="{:.1f}" y="{:.1f}" font-size="13" font-weight="bold">{}</text>)"
                       "\n",
                       k_left, top - 8, escape(panel.title));
    // Grid and ticks.
    for (double y = y_min; y <= y_max + y_step * 1e-6; y += y_step) {
      svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e3e3e3" stroke-width="1"/>)"
                         R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" fill="#444">{}</text>)"
                         "\n",
                         k_left, sy(y), k_left + plot_w, sy(y), k_left - 6, sy(y) + 4, tick_label(y, y_step));
    }
    for (double x = std::ceil(x_min / x_step) * x_step; x <= x_max + x_step * 1e-6; x += x_step) {
      svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e3e3e3" stroke-width="1"/>)"
                         R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" fill="#444">{}</text>)"
                         "\n",
                         sx(x), top, sx(x), top + plot_h, sx(x), top + plot_h + 18, tick_label(x, x_step));
    }
    svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#888"/>)"
                       "\n",
                       k_left, top, plot_w, plot_h);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                       "\n",
                       k_left + plot_w / 2, top + plot_h + 40, escape(panel.x_label));
    svg += fmt::format(R"svg(<text transform="translate({:.1f},{:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg"
                       "\n",
                       k_left - 48, top + plot_h / 2, escape(panel.y_label));
    // Lines and legend.
    for (std::size_t s = 0; s < panel.series.size(); ++s) {
      const auto& series = panel.series[s];
      const char* colour = k_colours[s % std::size(k_colours)];
      std::string points;
      for (std::size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
        if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
          continue;
        }
        const double y = std::clamp(series.y[i], y_min, y_max);
        points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", sx(series.x[i]), sy(y));
      }
      svg +=
          fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" points="{}"><title>{}</title></polyline>)"
                      "\n",
                      colour, points, escape(series.name));
      const double ly = top + 14 + static_cast<double>(s) * 20;
      svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="3"/>)"
                         R"(<text x="{:.1f}" y="{:.1f}">{}</text>)"
                         "\n",
                         k_left + plot_w + 16, ly, k_left + plot_w + 40, ly, colour, k_left + plot_w + 46, ly + 4,
                         escape(series.name));
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace gpuorch::cli

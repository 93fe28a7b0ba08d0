#include "commands.hpp"

#include <array>

namespace gpuorch::cli {

std::span<const CommandSpec> command_table() {
  static constexpr std::array k_commands{
      CommandSpec{"submit", setup_submit},
      CommandSpec{"get", setup_get},
      CommandSpec{"describe", setup_describe},
      CommandSpec{"delete", setup_delete},
      CommandSpec{"version", setup_version},
      CommandSpec{"validate", setup_validate},
      CommandSpec{"crd", setup_crd},
      CommandSpec{"completion", setup_completion},
      CommandSpec{"simulate", setup_simulate},
      CommandSpec{"sandbox", setup_sandbox},
      CommandSpec{"reconcile", setup_reconcile},
      CommandSpec{"install", setup_install},
      CommandSpec{"uninstall", setup_uninstall},
  };
  return k_commands;
}

}  // namespace gpuorch::cli

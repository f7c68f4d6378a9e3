/// @file commands.h
/// @brief Subcommand registration. Each cmd_<name>.cpp defines register_<name>(): it adds its
///        CLI11 subcommand and, in the callback, stores the exit code in `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

namespace smtp::cli {

void register_parse(CLI::App& app, int& exit_code);   // cmd_parse.cpp
void register_run(CLI::App& app, int& exit_code);     // cmd_run.cpp
void register_serve(CLI::App& app, int& exit_code);   // cmd_serve.cpp
void register_report(CLI::App& app, int& exit_code);  // cmd_report.cpp

}  // namespace smtp::cli

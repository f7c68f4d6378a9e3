// `smtp-harness report validate|summary|diff|junit` (see cmd_report.h).
#include "cli/cmd_report.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "report/junit.h"
#include "report/report.h"
#include "report/summary.h"
#include "report/write.h"
#include "scenario/load.h"

namespace smtp::cli {
namespace {

using ReportOrErrors = tl::expected<report::Report, std::vector<std::string>>;

ReportOrErrors read(const std::string& file, const ReportOptions& o) {
  return report::read_report(file, o.schema_dir);
}

void append_errors(std::string& err, const std::vector<std::string>& errors) {
  for (const std::string& e : errors) err += e + "\n";
}

int validate(const ReportOptions& o, std::string& out, std::string& err) {
  bool all_ok = true;
  for (const std::string& file : o.files) {
    std::vector<std::string> errors;
    if (o.kind == "scenario") {
      scenario::LoadOptions lo;
      lo.schema_dir = o.schema_dir;
      auto loaded = scenario::load_scenarios({file}, lo);
      if (!loaded) {
        for (const auto& e : loaded.error()) errors.push_back(e.to_string());
      } else {
        out += file + ": ok (" + std::to_string(loaded->size()) + " scenario" +
               (loaded->size() == 1 ? "" : "s") + ")\n";
      }
    } else if (o.kind == "profile") {
      auto loaded = scenario::load_profile(file, o.schema_dir);
      if (!loaded) {
        for (const auto& e : loaded.error()) errors.push_back(e.to_string());
      } else {
        out += file + ": ok\n";
      }
    } else {
      auto loaded = read(file, o);
      if (!loaded) {
        errors = loaded.error();
      } else {
        out += file + ": ok (" + std::to_string(loaded->scenarios.size()) + " scenarios)\n";
      }
    }
    if (!errors.empty()) {
      all_ok = false;
      append_errors(err, errors);
    }
  }
  return all_ok ? kExitOk : kExitUsage;
}

}  // namespace

int run_report(const ReportOptions& o, std::string& out, std::string& err) {
  if (o.action == "validate") return validate(o, out, err);
  if (o.action == "summary") {
    auto r = read(o.files.at(0), o);
    if (!r) {
      append_errors(err, r.error());
      return kExitUsage;
    }
    out += report::summary_text(*r, o.strict);
    return o.exit_status ? report::exit_code(*r, o.strict) : kExitOk;
  }
  if (o.action == "diff") {
    auto before = read(o.files.at(0), o);
    auto after = read(o.files.at(1), o);
    if (!before || !after) {
      if (!before) append_errors(err, before.error());
      if (!after) append_errors(err, after.error());
      return kExitUsage;
    }
    const report::ReportDiff diff = report::diff_reports(*before, *after);
    out += report::diff_text(diff);
    return diff.regressions > 0 ? kExitFailed : kExitOk;
  }
  if (o.action == "junit") {
    auto r = read(o.files.at(0), o);
    if (!r) {
      append_errors(err, r.error());
      return kExitUsage;
    }
    report::JunitOptions jo;
    jo.strict = o.strict;
    jo.transcripts = o.transcripts;
    if (o.output == "-") {
      out += report::to_junit_xml(*r, jo);
      return kExitOk;
    }
    if (const std::error_code ec = report::write_junit(*r, o.output, jo)) {
      err += o.output + ": cannot write: " + ec.message() + "\n";
      return kExitUsage;
    }
    return kExitOk;
  }
  err += "unknown report action '" + o.action + "'\n";
  return kExitUsage;
}

void register_report(CLI::App& app, int& exit_code) {
  CLI::App* report = app.add_subcommand(
      "report", "Read compliance reports: validate, summary, diff (regressions), junit");
  report->require_subcommand(1);

  auto run = [&exit_code](const std::shared_ptr<ReportOptions>& opt) {
    std::string out;
    std::string err;
    exit_code = run_report(*opt, out, err);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    std::fwrite(err.data(), 1, err.size(), stderr);
  };

  {
    auto opt = std::make_shared<ReportOptions>();
    opt->action = "validate";
    CLI::App* sub = report->add_subcommand(
        "validate", "Check reports (or scenario/profile files) against reports/schema/");
    sub->add_option("files", opt->files, "files to check")->required();
    sub->add_option("--kind", opt->kind, "what the files are: report (default), scenario, profile")
        ->check(CLI::IsMember({"report", "scenario", "profile"}));
    sub->add_option("--schema-dir", opt->schema_dir,
                    "directory with *.schema.json (default: the schemas built in)");
    sub->callback([opt, run] { run(opt); });
  }
  {
    auto opt = std::make_shared<ReportOptions>();
    opt->action = "summary";
    CLI::App* sub = report->add_subcommand("summary", "Print a human summary of a report");
    sub->add_option("file", opt->files, "report.json")->required()->expected(1);
    sub->add_flag("--strict", opt->strict, "SHOULD-level (non-strict) failures count");
    sub->add_flag("--exit-status", opt->exit_status,
                  "exit with the report's status: 0 ok, 1 failures, 3 errors");
    sub->add_option("--schema-dir", opt->schema_dir, "directory with *.schema.json");
    sub->callback([opt, run] { run(opt); });
  }
  {
    auto opt = std::make_shared<ReportOptions>();
    opt->action = "diff";
    CLI::App* sub = report->add_subcommand(
        "diff", "Verdict changes between two reports; exit 1 on any regression");
    sub->add_option("files", opt->files, "OLD.json NEW.json")->required()->expected(2);
    sub->add_option("--schema-dir", opt->schema_dir, "directory with *.schema.json");
    sub->callback([opt, run] { run(opt); });
  }
  {
    auto opt = std::make_shared<ReportOptions>();
    opt->action = "junit";
    CLI::App* sub = report->add_subcommand("junit", "Convert a report to JUnit XML");
    sub->add_option("file", opt->files, "report.json")->required()->expected(1);
    sub->add_option("-o,--output", opt->output, "output file (- for stdout)")->required();
    sub->add_flag("--strict", opt->strict, "non-strict scenarios become failures");
    sub->add_flag("!--no-transcripts", opt->transcripts, "leave transcripts out");
    sub->add_option("--schema-dir", opt->schema_dir, "directory with *.schema.json");
    sub->callback([opt, run] { run(opt); });
  }
}

}  // namespace smtp::cli

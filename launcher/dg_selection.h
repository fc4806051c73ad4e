// DomainBed's model selection (domainbed/model_selection.py at b93c22a):
// per run, the checkpoint a method picks and its validation and test
// accuracy (run_acc); per (trial, dataset, algorithm, test domain), the
// hyper-parameter draw with the best validation accuracy (sweep_acc).
#pragma once

#include "launcher/dg_runs.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace uda::cli {

enum class DgSelection {
  kTrainingDomain,  // IIDAccuracySelectionMethod (:75-100)
  kLeaveOneOut,     // LeaveOneOutSelectionMethod (:130-169)
  kOracle,          // OracleSelectionMethod (:54-73)
};

// training_domain, leave_one_out, oracle.
DgSelection parse_dg_selection(const std::string& name);
std::string dg_selection_option(DgSelection s);
// DomainBed's name of the method (its `name` attribute), used in the tables.
std::string dg_selection_title(DgSelection s);

struct DgAcc {
  double val_acc = 0;
  double test_acc = 0;
  int64_t step = 0;  // the checkpoint chosen
};

// run_acc of one hyper-parameter draw's runs for test domain `test_env`:
// its single-test-domain run and, for leave-one-out, its pair runs.
std::optional<DgAcc> dg_run_acc(DgSelection s, const std::vector<const DgRun*>& runs, int64_t test_env);

// The result of one (trial, dataset, algorithm, test domain) group.
struct DgSweepAcc {
  int64_t trial_seed = 0;
  std::string dataset, algorithm;
  int64_t test_env = 0;
  int64_t hparams_seed = 0;  // the draw chosen
  DgAcc acc;
};

// sweep_acc of every group (reporting.get_grouped_records, reporting.py:27-40:
// a run with test domains [i, j] belongs to the groups of i and of j); groups
// without a value are absent. Ties of validation accuracy go to the highest
// hparams_seed. Leave-one-out: a UserError when no run has two test domains;
// a line in `notes` for each draw that lacks a run.
std::vector<DgSweepAcc> dg_sweep_accs(DgSelection s, const std::vector<DgRun>& runs, std::vector<std::string>* notes);

}  // namespace uda::cli

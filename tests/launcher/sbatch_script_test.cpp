// The SLURM batch script: rendering, per-field validation, and that no value
// can inject shell commands.
#include "launcher/sbatch_script.h"
#include "launcher/shell_quote.h"

#include "core/error.h"
#include "tests/support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using uda::cli::render_sbatch;
using uda::cli::SbatchSpec;

namespace {

SbatchSpec spec() {
  SbatchSpec s;
  s.job_name = "uda-run";
  s.nodes = 2;
  s.ntasks_per_node = 4;
  s.gpus_per_node = 4;
  s.cpus_per_task = 8;
  s.time = "1-02:00:00";
  s.partition = "gpu";
  s.account = "proj_1";
  s.signal_lead_s = 300;
  s.max_requeues = 5;
  s.output = "/runs/a/slurm-%j.out";
  s.run_dir = "/runs/a";
  s.worker_argv = {"/opt/uda/bin/uda", "--log-level", "info", "worker"};
  return s;
}

// Runs the script's variable assignments (everything before the first
// command) in bash and prints the named variables, one per line.
std::string evaluate_assignments(const std::string& script, const std::string& dir) {
  const std::string head = script.substr(0, script.find("\nif [ -n \"$RUN_LIST\" ]"));
  const std::string path = dir + "/head.sh";
  uda::test::write_text(path, head + "\nprintf '%s\\n' \"$RUN_DIR\" \"$RUN_LIST\" \"$RESUME\" \"${WORKER[@]}\"\n");
  auto r = uda::test::run_command({"bash", path}, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

}  // namespace

TEST(SbatchScript, RendersEveryDirective) {
  const std::string s = render_sbatch(spec());
  for (const char* line :
       {"#SBATCH --job-name=uda-run\n", "#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=4\n",
        "#SBATCH --gpus-per-node=4\n", "#SBATCH --cpus-per-task=8\n", "#SBATCH --time=1-02:00:00\n",
        "#SBATCH --partition=gpu\n", "#SBATCH --account=proj_1\n", "#SBATCH --signal=B:USR2@300\n",
        "#SBATCH --requeue\n", "#SBATCH --output=/runs/a/slurm-%j.out\n", "MAX_REQUEUES=5\n",
        "EXIT_REQUEUE=75\n", "RUN_DIR='/runs/a'\n", "srun --mpi=pmix", "scontrol requeue \"$JOB_REF\"",
        "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}", "trap 'forward USR2' USR2"})
    EXPECT_NE(s.find(line), std::string::npos) << line;
  EXPECT_EQ(s.find("--array"), std::string::npos);
  EXPECT_EQ(s.find("{{"), std::string::npos);
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
}

TEST(SbatchScript, ArrayJobReadsItsRunFromTheList) {
  auto s = spec();
  s.run_dir.clear();
  s.run_list = "/sweeps/x/slurm/runs.txt";
  s.array = "0-3%2";
  const std::string out = render_sbatch(s);
  EXPECT_NE(out.find("#SBATCH --array=0-3%2\n"), std::string::npos);
  EXPECT_NE(out.find("RUN_LIST='/sweeps/x/slurm/runs.txt'"), std::string::npos);
}

TEST(SbatchScript, OptionalDirectivesLeftOutWhenUnset) {
  auto s = spec();
  s.partition.clear();
  s.account.clear();
  s.gpus_per_node = 0;
  const std::string out = render_sbatch(s);
  EXPECT_EQ(out.find("--partition"), std::string::npos);
  EXPECT_EQ(out.find("--account"), std::string::npos);
  EXPECT_EQ(out.find("--gpus-per-node"), std::string::npos);
}

TEST(SbatchScript, RejectsShellAndLineBreaksInDirectiveFields) {
  const std::vector<std::string> evil = {"x; touch /tmp/pwned", "$(touch /tmp/pwned)", "`touch /tmp/pwned`",
                                         "a\n#SBATCH --uid=0",   "a b",                 "'quoted'"};
  for (const auto& v : evil) {
    auto s = spec();
    s.partition = v;
    EXPECT_THROW(render_sbatch(s), uda::UserError) << v;
    s = spec();
    s.account = v;
    EXPECT_THROW(render_sbatch(s), uda::UserError) << v;
    s = spec();
    s.job_name = v;
    EXPECT_THROW(render_sbatch(s), uda::UserError) << v;
    s = spec();
    s.time = v;
    EXPECT_THROW(render_sbatch(s), uda::UserError) << v;
    s = spec();
    s.output = "/runs/" + v + "/out";
    EXPECT_THROW(render_sbatch(s), uda::UserError) << v;
  }
  auto s = spec();
  s.nodes = 0;
  EXPECT_THROW(render_sbatch(s), uda::UserError);
  s = spec();
  s.run_dir.clear();
  s.run_list = "/l";
  s.array = "0-3%2; rm -rf /";
  EXPECT_THROW(render_sbatch(s), uda::UserError);
  try {
    s = spec();
    s.partition = "gpu;id";
    render_sbatch(s);
  } catch (const uda::UserError& e) {
    EXPECT_EQ(e.where(), "--partition");
  }
}

TEST(SbatchScript, ShellReadValuesStayLiteral) {
  uda::test::TempDir tmp;
  const std::string pwned = tmp / "pwned";
  const std::vector<std::string> evil = {
      "/r/x; touch " + pwned,        "/r/$(touch " + pwned + ")", "/r/`touch " + pwned + "`",
      "/r/a'; touch " + pwned + "'", "/r/a\ntouch " + pwned,      "/r/{{RUN_LIST}}",
      "/r/$HOME ${IFS} \\ \" *"};
  for (const auto& v : evil) {
    auto s = spec();
    s.run_dir = v;
    // --resume is one line (a checkpoint path); other fields take any bytes.
    s.resume = v.find('\n') == std::string::npos ? v : "auto";
    s.worker_argv = {"/bin/uda", v, "worker"};
    const std::string out = evaluate_assignments(render_sbatch(s), tmp.path());
    EXPECT_EQ(out, v + "\n\n" + s.resume + "\n/bin/uda\n" + v + "\nworker\n") << v;
    EXPECT_FALSE(fs::exists(pwned)) << v;
  }
}

TEST(SbatchScript, ScriptIsValidBash) {
  uda::test::TempDir tmp;
  uda::test::write_text(tmp / "job.sbatch", render_sbatch(spec()));
  auto r = uda::test::run_command({"bash", "-n", tmp / "job.sbatch"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(ShellQuote, QuotesEveryByte) {
  EXPECT_EQ(uda::cli::shell_quote("a b"), "'a b'");
  EXPECT_EQ(uda::cli::shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(uda::cli::shell_quote(""), "''");
}

namespace {

// Runs the rendered script with stand-ins for srun (writes a rank status
// with `code` and exits with it) and scontrol (records its arguments).
struct FakeJob {
  uda::test::TempDir tmp;
  std::string run() const { return tmp / "run"; }
  uda::test::CommandResult start(int code, const std::string& env) {
    fs::create_directories(tmp / "bin");
    fs::create_directories(run());
    uda::test::write_text(tmp / "bin/srun",
                          "#!/bin/bash\nmkdir -p '" + run() + "/status'\necho '{\"rank\":0,\"exit_code\":" +
                              std::to_string(code) + "}' > '" + run() + "/status/rank-0.json'\nexit " +
                              std::to_string(code) + "\n");
    uda::test::write_text(tmp / "bin/scontrol", "#!/bin/bash\necho \"$@\" >> '" + tmp.path() + "/scontrol.log'\n");
    fs::permissions(tmp / "bin/srun", fs::perms::owner_all);
    fs::permissions(tmp / "bin/scontrol", fs::perms::owner_all);
    auto s = spec();
    s.run_dir = run();
    s.max_requeues = 2;
    s.worker_argv = {"uda", "worker"};
    uda::test::write_text(tmp / "job.sh", render_sbatch(s));
    return uda::test::run_command(
        {"bash", "-c", "PATH='" + tmp.path() + "/bin':$PATH SLURM_JOB_ID=42 " + env + " bash '" + tmp.path() + "/job.sh'"});
  }
  std::string scontrol() const { return fs::exists(tmp / "scontrol.log") ? uda::test::read_text(tmp / "scontrol.log") : ""; }
};

}  // namespace

TEST(SbatchScriptLogic, CheckpointedStepIsRequeued) {
  FakeJob j;
  auto r = j.start(75, "");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(j.scontrol(), "requeue 42\n");
  EXPECT_EQ(uda::test::read_text(j.run() + "/slurm_requeues"), "1\n");
}

TEST(SbatchScriptLogic, ArrayTaskRequeuesItsOwnTask) {
  FakeJob j;
  fs::create_directories(j.tmp / "run");
  uda::test::write_text(j.tmp / "list.txt", "/nonexistent\n" + j.run() + "\n");
  // Same script, array form: task 1 reads line 2 of the list.
  auto s = spec();
  s.run_dir.clear();
  s.run_list = j.tmp / "list.txt";
  s.array = "0-1%1";
  s.worker_argv = {"uda", "worker"};
  j.start(75, "");  // writes the stand-ins
  fs::remove(j.tmp / "scontrol.log");
  uda::test::write_text(j.tmp / "job.sh", render_sbatch(s));
  auto r = uda::test::run_command({"bash", "-c",
                                   "PATH='" + j.tmp.path() + "/bin':$PATH SLURM_JOB_ID=50 SLURM_ARRAY_JOB_ID=48 "
                                   "SLURM_ARRAY_TASK_ID=1 bash '" + j.tmp.path() + "/job.sh'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(j.scontrol(), "requeue 48_1\n");
  EXPECT_EQ(uda::test::read_text(j.run() + "/slurm_job_id"), "48_1\n");
}

TEST(SbatchScriptLogic, RequeueLimitStopsEndlessRequeues) {
  FakeJob j;
  auto r = j.start(75, "SLURM_RESTART_COUNT=2");
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_EQ(j.scontrol(), "");
  EXPECT_TRUE(fs::exists(j.run() + "/slurm_requeue_limit"));
}

TEST(SbatchScriptLogic, FailureIsNotRequeued) {
  FakeJob j;
  auto r = j.start(2, "");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(j.scontrol(), "");
}

TEST(SbatchScript, EmbeddedTemplateIsTheFileInSlurm) {
  EXPECT_EQ(uda::cli::sbatch_template(), uda::test::read_text(std::string(UDA_SOURCE_DIR) + "/slurm/train.sbatch.in"));
}

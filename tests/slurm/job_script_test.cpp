// The sbatch script promptgrid writes (slurm/job_script.h), without a cluster: its #SBATCH lines
// against expected text, the checks of every value that reaches them, and the script itself run by
// bash with stand-ins for srun, scontrol and scancel, fed hostile paths, overrides and setup commands:
// what srun receives must be exactly what was given, and nothing else may run.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/error.h"
#include "slurm/job_options.h"
#include "slurm/job_script.h"
#include "support/test_data.h"
#include "sweeps/sweep_file.h"
#include "sweeps/task_spec.h"

namespace pg::slurm {
namespace {

using testing::make_temp_dir;
using testing::read_bytes;
using testing::run_shell;

JobOptions base_options(const std::string& out_dir = "/work/sweeps/out") {
  JobOptions options;
  options.promptgrid = "/opt/promptgrid/bin/promptgrid";
  options.sweep_file = "/work/sweeps/coop.yaml";
  options.out_dir = out_dir;
  options.job_name = job_name_for(options.sweep_file);
  return options;
}

std::string sbatch_lines(const std::string& script) {
  std::string lines;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#SBATCH", 0) == 0) lines += line + "\n";
  }
  return lines;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JobScript, DirectivesForAGpuJob) {
  JobOptions options = base_options();
  options.nodes = 2;
  options.gpus_per_node = 4;
  options.cpus_per_worker = 8;
  options.time = "12:00:00";
  options.partition = "gpu,gpu-long";
  options.account = "proj-1";
  options.qos = "high";
  options.constraint = "a100&ib";
  options.memory = "64G";
  options.gpu_type = "a100";
  options.signal_seconds = 600;
  const JobPart part = job_parts(options).at(0);
  const std::string script = render_job_script(options, part);
  EXPECT_EQ(sbatch_lines(script),
            "#SBATCH --job-name=pg-coop\n"
            "#SBATCH --nodes=2\n"
            "#SBATCH --ntasks-per-node=5\n"
            "#SBATCH --cpus-per-task=8\n"
            "#SBATCH --mem=64G\n"
            "#SBATCH --gres=gpu:a100:4\n"
            "#SBATCH --time=12:00:00\n"
            "#SBATCH --partition=gpu,gpu-long\n"
            "#SBATCH --account=proj-1\n"
            "#SBATCH --qos=high\n"
            "#SBATCH --constraint=a100&ib\n"
            "#SBATCH --signal=B:USR2@600\n"
            "#SBATCH --requeue\n"
            "#SBATCH --open-mode=append\n");
  EXPECT_NE(script.find("ranks=9\n"), std::string::npos);  // 2 nodes x 4 GPUs + rank 0
  EXPECT_NE(script.find("--cpus-per-task=8 \\\n"), std::string::npos);  // srun is told again
  EXPECT_NE(script.find("--device cuda --threads 8 --checkpoint-every 60"), std::string::npos);
  EXPECT_EQ(sbatch_command(options, part),
            (std::vector<std::string>{"sbatch", "--parsable", "--chdir=/work/sweeps/out", "--output=slurm/job-%j.out",
                                      "/work/sweeps/out/slurm/job.sbatch"}));
}

TEST(JobScript, CpuJobHasNoGresAndRunsOnTheCpu) {
  JobOptions options = base_options();
  options.workers_per_node = 3;
  const std::string script = render_job_script(options, job_parts(options).at(0));
  EXPECT_EQ(sbatch_lines(script),
            "#SBATCH --job-name=pg-coop\n#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=4\n"
            "#SBATCH --signal=B:USR2@300\n#SBATCH --requeue\n#SBATCH --open-mode=append\n");
  EXPECT_NE(script.find("--device cpu --threads 0"), std::string::npos);
  EXPECT_EQ(script.find("setup="), std::string::npos);  // no setup block when there is none
}

TEST(JobScript, SplitSweepsGetOnePartEachUnderTheOutputFolder) {
  JobOptions options = base_options();
  options.jobs = 3;
  const std::vector<JobPart> parts = job_parts(options);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].out_dir, "/work/sweeps/out/part-2-of-3");
  EXPECT_EQ(parts[1].script_path, "/work/sweeps/out/slurm/job-part-2-of-3.sbatch");
  EXPECT_NE(render_job_script(options, parts[1]).find("part=(--part 2/3)"), std::string::npos);
  // Task ids split deterministically and evenly enough.
  std::vector<int> counts(3);
  for (int i = 0; i < 3000; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(i) * 0x9E3779B97F4A7C15ull);
    ++counts[static_cast<size_t>(sweeps::task_part(id, 3))];
  }
  for (int count : counts) EXPECT_NEAR(count, 1000, 120);
  EXPECT_EQ(sweeps::task_part("00000000000000ff", 7), 255 % 7);
  EXPECT_NE(message_of([] { sweeps::task_part("../etc", 2); }).find("not a task id"), std::string::npos);
}

TEST(JobScript, JobNamesAreReducedToPlainWords) {
  EXPECT_EQ(job_name_for("/a/b/coop_fewshot.yaml"), "pg-coop_fewshot");
  EXPECT_EQ(job_name_for("/a/../x y$(id)`z`'\n.yml"), "pg-x_y__id__z___");
  EXPECT_EQ(job_name_for("/a/" + std::string(200, 'n') + ".yaml").size(), 64u);
}

TEST(JobOptionsCheck, EveryValueThatReachesSbatchIsValidated) {
  const std::vector<std::pair<std::function<void(JobOptions&)>, std::string>> cases = {
      {[](JobOptions& o) { o.partition = "gpu --wrap=id"; }, "--partition 'gpu --wrap=id' is not a partition name"},
      {[](JobOptions& o) { o.partition = "gpu\n#SBATCH --wrap=id"; }, "--partition"},
      {[](JobOptions& o) { o.account = "a$(id)"; }, "--account 'a$(id)' is not an account name"},
      {[](JobOptions& o) { o.qos = "q`id`"; }, "--qos"},
      {[](JobOptions& o) { o.constraint = "a100 && rm"; }, "--constraint"},
      {[](JobOptions& o) { o.constraint = "a'100"; }, "--constraint"},
      {[](JobOptions& o) { o.time = "1:00:00; id"; }, "--time '1:00:00; id' is not a Slurm time"},
      {[](JobOptions& o) { o.time = "1-2:3:4:5"; }, "--time"},
      {[](JobOptions& o) { o.nodes = 0; }, "--nodes is 0"},
      {[](JobOptions& o) { o.gpus_per_node = -1; }, "--gpus-per-node is -1"},
      {[](JobOptions& o) { o.signal_seconds = 0; }, "--signal-seconds is 0"},
      {[](JobOptions& o) { o.device = "tpu"; }, "--device is 'tpu'"},
      {[](JobOptions& o) { o.device = "cuda"; }, "--device cuda needs --gpus-per-node"},
      {[](JobOptions& o) { o.out_dir = "/w/out%j"; }, "holds '%'"},
      {[](JobOptions& o) { o.time = "5"; }, "--signal-seconds 300 is not well inside --time 5 (300 s)"},
      {[](JobOptions& o) { o.time = "00:01:00"; o.signal_seconds = 31; }, "give --signal-seconds at most 30"},
      {[](JobOptions& o) { o.memory = "64 G"; }, "--mem '64 G' is not a Slurm memory size"},
      {[](JobOptions& o) { o.memory = "G"; }, "--mem"},
      {[](JobOptions& o) { o.gpu_type = "a100:8"; }, "--gpu-type 'a100:8'"},
  };
  for (const auto& [change, expected] : cases) {
    JobOptions options = base_options();
    change(options);
    const std::string message = message_of([&] { check_job_options(options); });
    EXPECT_NE(message.find(expected), std::string::npos) << "expected '" << expected << "' in '" << message << "'";
  }
  EXPECT_EQ(slurm_time_seconds("30"), 1800);
  EXPECT_EQ(slurm_time_seconds("30:15"), 1815);
  EXPECT_EQ(slurm_time_seconds("12:00:05"), 43205);
  EXPECT_EQ(slurm_time_seconds("2-12"), 216000);
  EXPECT_EQ(slurm_time_seconds("2-12:30"), 217800);
  EXPECT_EQ(slurm_time_seconds("1-00:00:01"), 86401);
  EXPECT_EQ(slurm_time_seconds("UNLIMITED"), 0);
  EXPECT_EQ(slurm_time_seconds("1:2:3:4"), -1);
  EXPECT_EQ(slurm_time_seconds("-5"), -1);
  for (const std::string time : {"30", "30:00", "12:00:00", "2-00", "2-12:00", "2-12:00:00", "UNLIMITED"}) {
    JobOptions options = base_options();
    options.time = time;
    EXPECT_NO_THROW(check_job_options(options)) << time;
  }
}

TEST(JobOptionsCheck, SweepFileSectionGivesDefaultsTheCommandLineOverrides) {
  const std::string inputs = make_temp_dir("slurm_sweep_inputs");  // the sweep's paths must exist
  for (const char* name : {"/f.h5", "/c.pt", "/v.txt"}) std::ofstream(inputs + name) << "";
  // The `slurm:` section starts on line 6 of sweep.yaml.
  auto section = [&](const std::string& lines) {
    return sweeps::parse_sweep("features: f.h5\nclip: c.pt\nvocab: v.txt\ndatasets: [dtd]\nmethods: [{name: zeroshot}]\n"
                               "slurm:\n" + lines,
                               "sweep.yaml", inputs, {})
        .slurm;
  };
  JobOptions options = base_options();
  options.time = "01:00:00";
  apply_sweep_defaults(options, section("  partition: gpu\n  gpus_per_node: 4\n  time: '04:00:00'\n  setup: module load cuda\n"),
                       {"time"});
  EXPECT_EQ(options.partition, "gpu");
  EXPECT_EQ(options.gpus_per_node, 4);
  EXPECT_EQ(options.time, "01:00:00");  // given on the command line
  EXPECT_EQ(options.setup, "module load cuda");

  JobOptions hostile = base_options();
  const std::string message = message_of([&] { apply_sweep_defaults(hostile, section("  partition: 'gpu; id'\n"), {}); });
  EXPECT_NE(message.find("sweep.yaml:7: slurm.partition"), std::string::npos) << message;

  // Defaults are checked together: --device cuda from the command line with the GPUs from the file.
  JobOptions cuda = base_options();
  cuda.device = "cuda";
  EXPECT_NO_THROW(apply_sweep_defaults(cuda, section("  account: acc\n  gpus_per_node: 2\n"), {}));
  // A combination that does not fit names the file's key it involves: a 1-minute limit, 300 s warning.
  JobOptions short_time = base_options();
  const std::string too_short = message_of([&] { apply_sweep_defaults(short_time, section("  time: '1'\n"), {}); });
  EXPECT_NE(too_short.find("sweep.yaml:7: slurm.time: --signal-seconds 300 is not well inside --time 1"),
            std::string::npos)
      << too_short;
  EXPECT_NE(message_of([&] { section("  partiton: gpu\n"); }).find("partition"), std::string::npos);
}

// Runs a rendered script with bash and stand-ins for Slurm's commands in PATH.
class ScriptRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("job_script");
    std::filesystem::create_directories(dir_ + "/bin");
    std::filesystem::create_directories(dir_ + "/cwd");
    // srun: records its arguments, NUL-separated; FAKE_SRUN=stop plays a run stopped by USR2.
    write_program("srun",
                  "for a in \"$@\"; do printf '%s\\0' \"$a\"; done > \"$PG_TEST_DIR/srun.args\"\n"
                  "if [ \"${FAKE_SRUN:-}\" = cancel ]; then touch \"$PG_TEST_DIR/out/slurm/cancel\"; fi\n"
                  "if [ \"${FAKE_SRUN:-}\" = progress ]; then echo x >> \"$PG_TEST_DIR/out/journal.jsonl\"; fi\n"
                  "if [ -n \"${FAKE_SRUN:-}\" ]; then kill -USR2 $PPID; sleep 0.3; exit 140; fi\n"
                  "exit \"${FAKE_SRUN_EXIT:-0}\"\n");
    write_program("scontrol",
                  "if [ \"$1 $2\" = 'show hostnames' ]; then echo node1; exit 0; fi\n"
                  "echo \"$*\" >> \"$PG_TEST_DIR/scontrol.calls\"\n");
    write_program("scancel", "echo \"$*\" >> \"$PG_TEST_DIR/scancel.calls\"\n");
  }

  void write_program(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/bin/" + name;
    std::ofstream(path) << "#!/bin/bash\n" << body;
    ::chmod(path.c_str(), 0755);
  }

  // Exit code of the script run in dir_/cwd with `environment` ("A=1 B=2").
  int run(const std::string& script, const std::string& environment = "") {
    std::ofstream(dir_ + "/job.sbatch") << script;
    const auto result = run_shell("cd '" + dir_ + "/cwd' && env PATH='" + dir_ + "/bin':\"$PATH\" PG_TEST_DIR='" + dir_ +
                                  "' SLURM_JOB_ID=42 SLURM_JOB_NODELIST=node1 " + environment + " bash ../job.sbatch");
    output_ = result.output;
    return result.exit_code;
  }

  std::vector<std::string> srun_arguments() const {
    std::vector<std::string> arguments;
    const std::string text = read_bytes(dir_ + "/srun.args");
    size_t start = 0;
    for (size_t end; (end = text.find('\0', start)) != std::string::npos; start = end + 1) {
      arguments.push_back(text.substr(start, end - start));
    }
    return arguments;
  }

  std::set<std::string> files_named_pwned() const {
    std::set<std::string> found;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();  // PWNED1 ..., not the folder named after them
      if (name.rfind("PWNED", 0) == 0 && name.size() == 6) found.insert(entry.path().string());
    }
    return found;
  }

  std::string dir_, output_;
};

TEST_F(ScriptRun, HostileValuesReachSrunVerbatimAndRunNothing) {
  JobOptions options = base_options(dir_ + "/out $(touch PWNED1) `touch PWNED2` ' \" \\ \n;touch PWNED3");
  options.promptgrid = "/opt/pg $(touch PWNED4)/promptgrid";
  options.sweep_file = dir_ + "/it's a \"sweep\" $(touch PWNED5) `touch PWNED6`\n.yaml";
  options.overrides = {"methods.0.lr=$(touch PWNED7)", "seeds=[1, 2]", "name='x'\"y\"", "a=\n;touch PWNED8 #", ""};
  options.setup = "touch \"$PG_TEST_DIR/setup ran\"  # a comment: $(touch PWNED9)\nexport FROM_SETUP='it''s'";
  options.device = "cpu";
  const std::string script = render_job_script(options, job_parts(options).at(0));
  ASSERT_EQ(run(script), 0) << output_;
  std::vector<std::string> expected = {"--mpi=pmix", "--distribution=arbitrary", "--ntasks=2", "--kill-on-bad-exit=1",
                                       options.promptgrid, "run", options.sweep_file};
  expected.insert(expected.end(), options.overrides.begin(), options.overrides.end());
  for (const std::string word : {"--out", options.out_dir.c_str(), "--device", "cpu", "--threads", "0",
                                 "--checkpoint-every", "60"}) {
    expected.push_back(word);
  }
  EXPECT_EQ(srun_arguments(), expected);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/setup ran")) << output_;  // the setup ran, as written
  EXPECT_EQ(files_named_pwned(), std::set<std::string>());
  // The job wrote only inside its output folder: its start record.
  EXPECT_NE(read_bytes(options.out_dir + "/slurm/attempts.jsonl").find("\"job_id\": 42, \"restarts\": 0"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/scontrol.calls"));  // finished: no requeue
}

TEST_F(ScriptRun, SetupThatDoesNotParseStopsTheJobBeforeTheSweep) {
  JobOptions options = base_options(dir_ + "/out");
  options.setup = "echo 'unbalanced\nsrun --fake";
  EXPECT_EQ(run(render_job_script(options, job_parts(options).at(0))), 1);
  EXPECT_NE(output_.find("the setup commands (--setup) failed"), std::string::npos) << output_;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/srun.args"));
}

TEST_F(ScriptRun, SetupMayReadUnsetVariablesAndASignalDuringItRequeues) {
  JobOptions options = base_options(dir_ + "/out");
  options.setup = "echo \"[${NOT_SET_ANYWHERE}]\"";  // site profiles do this; set -u comes after the setup
  EXPECT_EQ(run(render_job_script(options, job_parts(options).at(0))), 0) << output_;
  EXPECT_NE(output_.find("[]"), std::string::npos) << output_;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/srun.args"));

  std::filesystem::remove(dir_ + "/srun.args");
  options.setup = "kill -USR2 $$";  // the warning arrives while modules load
  EXPECT_EQ(run(render_job_script(options, job_parts(options).at(0))), 143) << output_;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/srun.args"));
  EXPECT_EQ(read_bytes(dir_ + "/scontrol.calls"), "requeue 42\n");
}

TEST_F(ScriptRun, StoppedBySignalRequeuesUntilTheLimitAndNeverWhenCancelled) {
  JobOptions options = base_options(dir_ + "/out");
  options.max_requeues = 2;
  const std::string script = render_job_script(options, job_parts(options).at(0));
  // Stopped without progress: requeued twice in a row, not a third time.
  for (int run_number = 1; run_number <= 3; ++run_number) {
    std::filesystem::remove(dir_ + "/scontrol.calls");
    EXPECT_EQ(run(script, "FAKE_SRUN=stop SLURM_RESTART_COUNT=" + std::to_string(run_number)), 140);
    if (run_number <= 2) {
      EXPECT_NE(output_.find("stopped by SIGUSR2; requeueing job 42"), std::string::npos) << output_;
      EXPECT_EQ(read_bytes(dir_ + "/scontrol.calls"), "requeue 42\n");
    } else {
      EXPECT_NE(output_.find("no progress in the last 3 runs (--max-requeues 2)"), std::string::npos) << output_;
      EXPECT_FALSE(std::filesystem::exists(dir_ + "/scontrol.calls"));
    }
  }
  // A run that journaled a task made progress: requeued, and the count starts again.
  std::filesystem::remove(dir_ + "/scontrol.calls");
  EXPECT_EQ(run(script, "FAKE_SRUN=progress"), 140);
  EXPECT_EQ(read_bytes(dir_ + "/scontrol.calls"), "requeue 42\n");
  EXPECT_EQ(read_bytes(dir_ + "/out/slurm/requeues-without-progress"), "0\n");

  // A sweep that fails without a signal is not requeued.
  std::filesystem::remove(dir_ + "/scontrol.calls");
  EXPECT_EQ(run(script, "FAKE_SRUN_EXIT=2"), 2);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/scontrol.calls"));

  // `slurm cancel` during the run: the job cancels itself instead of requeueing.
  EXPECT_EQ(run(script, "FAKE_SRUN=cancel"), 140);
  EXPECT_NE(output_.find("stopped for promptgrid slurm cancel"), std::string::npos) << output_;
  EXPECT_EQ(read_bytes(dir_ + "/scancel.calls"), "42\n");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/scontrol.calls"));
  // And a job requeued before the cancel does not start again.
  std::filesystem::remove(dir_ + "/srun.args");
  EXPECT_EQ(run(script, "SLURM_RESTART_COUNT=1"), 0);
  EXPECT_NE(output_.find("cancelled (promptgrid slurm cancel); not starting it"), std::string::npos) << output_;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/srun.args"));
}

}  // namespace
}  // namespace pg::slurm

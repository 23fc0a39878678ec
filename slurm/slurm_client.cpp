#include "slurm/slurm_client.h"

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/strings.h"

extern char** environ;

namespace pg::slurm {
namespace {

std::string command_line(const std::vector<std::string>& argv) { return join(argv, " "); }

// "`sbatch ...` failed: <why>", with a hint when the program is missing.
std::string failure(const std::vector<std::string>& command, const ProgramResult& result) {
  if (!result.started) {
    return "`" + command[0] + "` cannot be run (" + result.err + "); install Slurm's client commands (Debian: slurm-client) "
           "or put them in PATH";
  }
  const std::string said = trim(result.err.empty() ? result.out : result.err);
  return "`" + command_line(command) + "` failed" + (result.exit_code < 0 ? " (killed by a signal)" : "") +
         (said.empty() ? "" : ": " + said);
}

// The fields of a `scontrol show job -o` line: "JobId=5 JobName=x ... Restarts=1 ...".
std::string scontrol_field(const std::string& line, const std::string& key) {
  const std::string needle = " " + key + "=";
  const size_t at = (" " + line).find(needle);
  if (at == std::string::npos) return "";
  const size_t start = at + needle.size() - 1;
  const size_t end = line.find(' ', start);
  return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv) {
  ProgramResult result;
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0) return result;
  if (::pipe(err_pipe) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawned != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = std::strerror(spawned);
    return result;
  }
  result.started = true;
  // Both pipes at once, so that a full one never blocks the program.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  char buffer[4096];
  while (open_pipes > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  for (const auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string submit_job(const std::vector<std::string>& command) {
  const ProgramResult result = run_program(command);
  if (result.exit_code != 0) throw Error(failure(command, result));
  // --parsable prints "ID" or "ID;cluster".
  const std::string line = trim(result.out);
  const std::string id = line.substr(0, line.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw Error("sbatch --parsable printed '" + line + "', not a job id", ErrorKind::internal);
  }
  return id;
}

bool JobState::active() const {
  for (const char* state_name : {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                                 "SUSPENDED", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "STOPPED",
                                 "RESV_DEL_HOLD", "SPECIAL_EXIT"}) {
    if (state == state_name) return true;
  }
  return false;
}

JobState query_job(const std::string& job_id) {
  JobState job;
  job.job_id = job_id;
  job.state = "UNKNOWN";
  // squeue -t all also lists jobs that ended within the controller's MinJobAge.
  const ProgramResult squeue = run_program({"squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%r|%M"});
  if (!squeue.started || squeue.exit_code < 0) {
    job.note = failure({"squeue"}, squeue);
    job.reachable = false;
    return job;
  }
  const std::string line = trim(squeue.out);
  if (squeue.exit_code == 0 && !line.empty()) {
    const std::vector<std::string> fields = split(line.substr(0, line.find('\n')), '|');
    job.state = fields.size() > 0 ? fields[0] : "UNKNOWN";
    job.reason = fields.size() > 1 && fields[1] != "None" ? fields[1] : "";
    job.elapsed = fields.size() > 2 ? fields[2] : "";
    const ProgramResult scontrol = run_program({"scontrol", "show", "job", "-o", job_id});
    if (scontrol.exit_code == 0) {
      const std::string restarts = scontrol_field(scontrol.out, "Restarts");
      if (!restarts.empty() && restarts.size() < 9 && restarts.find_first_not_of("0123456789") == std::string::npos) {
        job.restarts = std::stoi(restarts);
      }
      job.exit_code = scontrol_field(scontrol.out, "ExitCode");
    }
    return job;
  }
  if (squeue.exit_code != 0 && squeue.err.find("Invalid job id") == std::string::npos) {
    job.note = "squeue failed: " + trim(squeue.err) + " (is the Slurm controller reachable?)";
    job.reachable = false;
    return job;
  }
  // The controller forgot the job: accounting, where the cluster keeps it (-D: one line per requeue).
  const ProgramResult sacct =
      run_program({"sacct", "-n", "-P", "-X", "-D", "-j", job_id, "-o", "State,ExitCode,Elapsed"});
  const std::string rows = trim(sacct.out);
  if (sacct.exit_code == 0 && !rows.empty()) {
    const std::vector<std::string> lines = split(rows, '\n');
    const std::vector<std::string> fields = split(lines.back(), '|');
    job.state = fields.size() > 0 ? split(fields[0], ' ')[0] : "UNKNOWN";  // "CANCELLED by 0"
    job.exit_code = fields.size() > 1 ? fields[1] : "";
    job.elapsed = fields.size() > 2 ? fields[2] : "";
    job.restarts = static_cast<int>(lines.size()) - 1;
    return job;
  }
  job.note = sacct.exit_code == 0
                 ? "Slurm no longer knows the job and its accounting has no record of it"
                 : "Slurm no longer knows the job and keeps no accounting here (sacct: " +
                       trim(sacct.err.empty() ? sacct.out : sacct.err) + ")";
  return job;
}

void cancel_job(const std::string& job_id, const std::vector<std::string>& arguments) {
  std::vector<std::string> command = {"scancel"};
  command.insert(command.end(), arguments.begin(), arguments.end());
  command.push_back(job_id);
  const ProgramResult result = run_program(command);
  if (result.exit_code != 0) throw Error(failure(command, result));
}

}  // namespace pg::slurm

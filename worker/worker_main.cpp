#include "worker/worker_main.h"

#include "comm/communicator.h"
#include "comm/mpi_runtime.h"
#include "comm/rank_env.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "data/pipeline/malloc_tuning.h"
#include "worker/checkpointer.h"
#include "worker/data_streams.h"
#include "worker/scaling.h"
#include "worker/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <thread>

namespace uda::worker {

namespace {

bool write_status(const std::string& run_dir, int rank, int code, const std::string& message, int64_t iters) {
  try {
    auto dir = std::filesystem::path(run_dir) / "status";
    std::filesystem::create_directories(dir);
    nlohmann::json j{{"rank", rank}, {"exit_code", code}, {"message", message}, {"iterations", iters}};
    fs_util::write_file_atomic((dir / ("rank-" + std::to_string(rank) + ".json")).string(), j.dump() + "\n");
    return true;
  } catch (...) {
    return false;
  }
}

c10::Device choose_device(const std::string& want, int local_rank) {
  const bool cuda = torch::cuda::is_available();
  if (want == "cuda" && !cuda)
    throw UserError("runtime.device is cuda but no CUDA device is available", "runtime.device",
                    "use runtime.device=cpu or auto, or a CUDA build of libtorch (docs/GPU.md)");
  if (want == "cpu" || !cuda) return torch::kCPU;
  return c10::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % torch::cuda::device_count()));
}

}  // namespace

int run_worker(const WorkerArgs& args) {
  const auto env = comm::detect_rank_env();
  int rank = env.rank;
  int64_t iters = 0;
  try {
    comm::ensure_mpi();
    rank = comm::mpi_rank(MPI_COMM_WORLD);
    const int world = comm::mpi_size(MPI_COMM_WORLD);
    log::init({rank, world, args.log_level, args.run_dir});
    const std::string cfg_path = (std::filesystem::path(args.run_dir) / "config.json").string();
    auto cfg = config::load(cfg_path);
    const std::string hash = cfg.hash();  // of the recipe, before scaling
    for (const auto& c : apply_scale_rule(cfg, world))
      spdlog::info("scale rule {}: {} {} -> {}", cfg.get<std::string>("runtime.scale_rule"), c.key, c.before.dump(),
                   c.after.dump());
    int threads = static_cast<int>(cfg.get<int64_t>("runtime.intra_op_threads"));
    if (threads <= 0)
      threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::max(1, env.local_size));
    torch::set_num_threads(threads);
    auto device = choose_device(cfg.get<std::string>("runtime.device"), env.local_rank);
    auto comm = comm::make_communicator(comm::backend_for_device(device.str()));
    spdlog::info("rank {}/{} on {} ({} backend, {} intra-op threads), run {}", rank, world, device.str(),
                 comm->backend(), threads, args.run_dir);
    data::pipeline::keep_large_buffers_in_heap();

    Trainer trainer(cfg, *comm, device, args.run_dir);
    CheckpointerOptions co;
    co.run_dir = args.run_dir;
    co.keep_last = static_cast<int>(cfg.get<int64_t>("train.keep_checkpoints"));
    co.config_hash = hash;
    std::unique_ptr<Checkpointer> ck;
    if (args.resume != "never") {
      if (args.resume != "auto") co.resume_from = args.resume;
      ck = make_checkpointer(co);
    } else {
      ck = make_checkpointer(co);  // still saves; never restores
    }
    struct NoRestore : Checkpointer {
      std::unique_ptr<Checkpointer> inner;
      void save(TrainContext& c, BatchSource& d, int64_t n, const nlohmann::json& e, bool w) override {
        inner->save(c, d, n, e, w);
      }
      std::optional<std::pair<int64_t, nlohmann::json>> restore(TrainContext&, BatchSource&) override {
        return std::nullopt;
      }
      void wait() override { inner->wait(); }
    };
    if (args.resume == "never") {
      auto nr = std::make_unique<NoRestore>();
      nr->inner = std::move(ck);
      ck = std::move(nr);
    }
    trainer.setup(make_train_streams(cfg, rank, world, device), make_eval_suite(cfg, rank, world, device),
                  std::move(ck));
    auto result = trainer.run();
    iters = result.iterations_done;
    if (rank == 0 && !result.last_eval.is_null())
      fs_util::write_file_atomic((std::filesystem::path(args.run_dir) / "final_eval.json").string(),
                                 result.last_eval.dump(2) + "\n");
    const int code = result.preempted ? kExitRequeue : kExitOk;
    write_status(args.run_dir, rank, code, result.preempted ? "preempted: checkpointed for requeue" : "done", iters);
    if (rank == 0 && !result.preempted)
      fs_util::write_file_atomic((std::filesystem::path(args.run_dir) / "DONE").string(), std::to_string(iters) + "\n");
    return code;
  } catch (const UserError& e) {
    // The launcher prints the line from the status file (once, for every
    // executor); the rank log keeps it too.
    std::string line = format_user_error(e);
    log::error_to_file(line);
    if (!write_status(args.run_dir, rank, kExitUserError, line, iters)) fprintf(stderr, "%s\n", line.c_str());
    return kExitUserError;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    write_status(args.run_dir, rank, kExitInternalError, std::string("internal error: ") + e.what(), iters);
    return kExitInternalError;
  }
}

}  // namespace uda::worker
